import pytest
from jupyterhub import orm
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from xnat_jupyterhub_hub import db


@pytest.fixture
def tuned():
    db.tune_sqlite()
    yield
    event.remove(Engine, "connect", db._set_sqlite_pragmas)


def pragmas(session):
    return tuple(session.execute(text(f"PRAGMA {name}")).scalar()
                 for name in ("journal_mode", "synchronous", "foreign_keys"))


def test_hub_database_file_gets_wal_and_normal_sync(tuned, tmp_path):
    session = orm.new_session_factory(f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}")()
    # journal_mode, synchronous (1 = NORMAL), and JupyterHub's own foreign_keys still on
    assert pragmas(session) == ("wal", 1, 1)
    session.add(orm.User(name="JSmith"))
    session.commit()
    assert (tmp_path / "jupyterhub.sqlite-wal").exists()
    session.close()


def test_without_the_call_sqlite_keeps_its_defaults(tmp_path):
    session = orm.new_session_factory(f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}")()
    assert pragmas(session) == ("delete", 2, 1)
    session.close()


def test_calling_twice_registers_once(tuned):
    db.tune_sqlite()
    event.remove(Engine, "connect", db._set_sqlite_pragmas)
    assert not event.contains(Engine, "connect", db._set_sqlite_pragmas)
    db.tune_sqlite()  # for the fixture's removal
