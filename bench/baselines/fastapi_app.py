"""What many would pick instead: FastAPI + SQLAlchemy 2 (ORM) + pydantic 2 under uvicorn.

The usual recipe: a session per request from a dependency, sync route functions (FastAPI
runs them in its thread pool), ``response_model`` validation and serialisation. Run by
``bench/run.py`` as ``uvicorn bench.baselines.fastapi_app:app --workers 2``; uvicorn's
loops (asyncio and uvloop alike) set TCP_NODELAY on every accepted connection.
``BENCH_DATABASE_URL`` names the database.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, Integer, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

engine = create_engine(
    os.environ["BENCH_DATABASE_URL"], pool_size=10, max_overflow=2, pool_pre_ping=True, pool_recycle=1800
)
SessionLocal = sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Wdtest(Base):
    __tablename__ = "wdtest"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    age: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WdtestCreate(BaseModel):
    id: str | None = Field(None, min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=20)
    age: int | None = Field(None, ge=0, le=150)


class WdtestPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    age: int | None
    created_at: datetime
    updated_at: datetime


class WdtestPage(BaseModel):
    items: list[WdtestPublic]
    page: int
    per_page: int
    pages: int
    total: int


def get_session() -> Iterator[Session]:
    with SessionLocal() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/wdtests/{wdtest_id}", response_model=WdtestPublic)
def get_one(wdtest_id: str, session: SessionDep):
    record = session.get(Wdtest, wdtest_id)
    if record is None:
        raise HTTPException(status_code=404, detail="Not found")
    return record


@app.get("/api/v1/wdtests", response_model=WdtestPage)
def get_page(
    session: SessionDep,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
):
    total = session.scalar(select(func.count()).select_from(Wdtest))
    rows = session.scalars(select(Wdtest).order_by(Wdtest.id).limit(per_page).offset((page - 1) * per_page))
    return WdtestPage(
        items=rows.all(), page=page, per_page=per_page, pages=-(-total // per_page), total=total
    )


@app.post("/api/v1/wdtests", response_model=WdtestPublic, status_code=201)
def create(body: WdtestCreate, session: SessionDep):
    now = datetime.now(UTC).replace(tzinfo=None)
    record = Wdtest(
        id=body.id or str(uuid.uuid4()), name=body.name, age=body.age, created_at=now, updated_at=now
    )
    session.add(record)
    session.commit()
    return record
