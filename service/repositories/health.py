"""Whether the database answers."""

from service.database import Database
from service.problems import ServiceUnavailable
from service.queries import load_queries

SQL = load_queries("health")


async def database_answers(db: Database) -> bool:
    try:
        async with db.connection() as conn:
            return bool(await SQL["select-one"].fetchval(conn))
    except ServiceUnavailable:
        return False
