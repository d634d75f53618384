"""Wdtest schemas, named by direction: Create/Update in, Out/Page out, Query and Path for the URL."""

from marshmallow import RAISE, Schema, ValidationError, fields, post_dump, validates_schema
from marshmallow.validate import Length, OneOf, Range
from sqlalchemy import Row

from api.schemas.fields import Cursor, DelimitedList, FullMatch, QueryInteger, StrictInteger, Text
from models.wdtest import AGE_MAX, AGE_MIN, ID_MAX_LENGTH, NAME_MAX_LENGTH
from services.wdtests import COLUMNS, CURSOR_SORTABLE

# "." and ".." are excluded: clients collapse them as path segments, so such a record
# could never be read back at /wdtests/<id>.
ID_PATTERN = rf"^(?!\.\.?$)[A-Za-z0-9._~-]{{1,{ID_MAX_LENGTH}}}$"
ID_RULE = f"1-{ID_MAX_LENGTH} characters from [A-Za-z0-9._~-], not '.' or '..'"
FILTER_MAX_LENGTH = 100
LIST_MAX_ITEMS = 100
PER_PAGE_MAX = 100
PAGE_MAX = 10**9  # keeps the offset within what every backend can bind
VALID_ID = FullMatch(ID_PATTERN, error=f"Must be {ID_RULE}.")


def record_id(description: str = ID_RULE) -> fields.String:
    return fields.String(
        validate=VALID_ID,
        # maxLength too, for clients that size a field by it (the pattern enforces it).
        metadata={"description": description, "example": "3", "maxLength": ID_MAX_LENGTH},
    )


class WdtestCreate(Schema):
    """A new record (POST)."""

    class Meta:
        unknown = RAISE

    id = record_id(f"{ID_RULE}; a UUID is generated when absent.")
    name = Text(
        required=True,
        validate=Length(min=1, max=NAME_MAX_LENGTH),
        metadata={"description": f"1-{NAME_MAX_LENGTH} characters", "example": "wade"},
    )
    age = StrictInteger(
        allow_none=True,
        load_default=None,
        validate=Range(min=AGE_MIN, max=AGE_MAX),
        metadata={"description": f"{AGE_MIN}-{AGE_MAX}, or null", "example": 20},
    )


class WdtestReplace(WdtestCreate):
    """PUT: name and age; the id is the one in the path."""

    # A schema cannot tie a body field to the path: readOnly tells generators to leave it out.
    id = fields.String(
        validate=VALID_ID,
        metadata={
            "description": "May be sent, but must equal the id in the path",
            "readOnly": True,
            "maxLength": ID_MAX_LENGTH,
        },
    )


class WdtestUpdate(WdtestReplace):
    """PATCH: the same fields, each optional; absent fields keep their stored value."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class WdtestPath(Schema):
    # Ids outside the rule cannot exist: such a path answers 404.
    wdtest_id = record_id("The record id")


class WdtestOut(Schema):
    """A stored record."""

    def get_attribute(self, obj, attr, default):
        # Reads hand over named tuples (database.Query) or SQLAlchemy Rows: marshmallow's
        # accessor would try row[attr] first, which raises TypeError on either, before falling
        # back to getattr (a raised exception per field: 12 % of a list page's CPU).
        if isinstance(obj, (tuple, Row)):
            return getattr(obj, attr, default)
        return super().get_attribute(obj, attr, default)

    id = fields.String(required=True, metadata={"example": "3"})
    name = fields.String(required=True, metadata={"example": "wade"})
    age = fields.Integer(required=True, allow_none=True, metadata={"example": 20})
    created_at = fields.AwareDateTime(
        required=True, metadata={"description": "UTC, ISO 8601", "example": "2024-05-01T12:00:00+00:00"}
    )
    updated_at = fields.AwareDateTime(
        required=True, metadata={"description": "UTC, ISO 8601", "example": "2024-05-02T08:30:00+00:00"}
    )
    version = fields.Integer(
        required=True,
        metadata={"description": "1 when created, +1 on every change (the ETag)", "example": 1},
    )


class WdtestPage(Schema):
    """One page of records."""

    items = fields.List(fields.Nested(WdtestOut), required=True, metadata={"maxItems": PER_PAGE_MAX})
    page = fields.Integer(
        metadata={"description": "The page number; absent when reached with `after`", "example": 1}
    )
    per_page = fields.Integer(required=True, metadata={"example": 20})
    pages = fields.Integer(
        metadata={"description": "Number of pages (0 if none); absent with include_total=false", "example": 1}
    )
    total = fields.Integer(
        metadata={
            "description": "Records matching the filters; absent with include_total=false",
            "example": 1,
        }
    )
    next_cursor = Cursor(
        attribute="next_after",
        required=True,
        allow_none=True,
        metadata={
            "type": "string",
            "description": "Pass as `after` for the next page (same filters and sort); null on the last page",
        },
    )

    @post_dump
    def _drop_unknown(self, data, **kwargs):
        # Not computed for this request (no count, or a cursor page): absent, not null.
        return {key: value for key, value in data.items() if value is not None or key == "next_cursor"}


def _text_filter(description: str) -> Text:
    return Text(validate=Length(min=1, max=FILTER_MAX_LENGTH), metadata={"description": description})


def _int_filter(description: str) -> QueryInteger:
    return QueryInteger(metadata={"description": description})


SORT_CHOICES = [prefix + name for name in COLUMNS for prefix in ("", "-")]


class WdtestQuery(Schema):
    """Query parameters of the list: pagination, sort, and filters (all ANDed)."""

    class Meta:
        unknown = RAISE

    page = QueryInteger(
        load_default=1,
        validate=Range(min=1, max=PAGE_MAX),
        metadata={"description": f"Page, 1-{PAGE_MAX}"},
    )
    per_page = QueryInteger(
        load_default=20,
        validate=Range(min=1, max=PER_PAGE_MAX),
        metadata={"description": f"Page size, 1-{PER_PAGE_MAX}"},
    )
    include_total = fields.Boolean(
        load_default=True,
        metadata={
            "description": "false: no count (total, pages, X-Total-Count and the last link are left out), "
            "which a large table answers much faster"
        },
    )
    after = Cursor(
        metadata={
            "type": "string",
            "description": "Cursor pagination: the next_cursor of the previous page (not with page). "
            "Stable under inserts, and as fast deep in the list as at its start. Sort on "
            + " and ".join(sorted(CURSOR_SORTABLE))
            + " only, the sort and filters of the page that gave it",
        }
    )
    sort = DelimitedList(
        fields.String(validate=OneOf(SORT_CHOICES)),
        validate=Length(min=1, max=LIST_MAX_ITEMS),
        metadata={
            "description": "Comma list of id, name, age; '-' prefix for descending "
            "(e.g. age,-id). Ties are ordered by id."
        },
    )
    id = record_id("id equals")
    id__in = DelimitedList(
        fields.String(validate=VALID_ID, metadata={"maxLength": ID_MAX_LENGTH}),
        validate=Length(min=1, max=LIST_MAX_ITEMS),
        metadata={"description": "id is one of (comma-separated)"},
    )
    name = _text_filter("name equals")
    name__ne = _text_filter("name differs")
    name__startswith = _text_filter("name starts with (%, _ and \\ are literal)")
    name__endswith = _text_filter("name ends with (%, _ and \\ are literal)")
    name__contains = _text_filter("name contains (%, _ and \\ are literal)")
    name__like = _text_filter("SQL LIKE pattern: % any run, _ one character, \\ escapes")
    age = _int_filter("age equals")
    age__ne = _int_filter("age differs (records with no age never match)")
    age__gt = _int_filter("age greater than")
    age__gte = _int_filter("age greater than or equal")
    age__lt = _int_filter("age less than")
    age__lte = _int_filter("age less than or equal")
    age__in = DelimitedList(
        QueryInteger(),
        validate=Length(min=1, max=LIST_MAX_ITEMS),
        metadata={"description": "age is one of (comma-separated)"},
    )

    @validates_schema(pass_original=True)
    def _one_way_to_page(self, data, original, **kwargs):
        if "after" in data and "page" in original:
            raise ValidationError("Give page or after, not both.", "after")


# Built once: the resources' renderers and the outbox dump with these.
wdtest_out = WdtestOut()
wdtest_page = WdtestPage()
