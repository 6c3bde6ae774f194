"""Rows as read -> records to store: header matching, `extra`, keys and rejects. Pure.

Values are kept exactly as read; only the match keys and the parsed helper columns of
orders and interactions (day, amount, status) are derived, with the same normalizers
that `clean` uses.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from custdata.errors import InputFileError, InvalidValue
from custdata.io import RawRecord
from custdata.layout import TOTAL_INITIALS, is_blank, join_cells, join_name, totals_label
from custdata.models import FIELDS_BY_KIND, Reject, Skipped
from custdata.numbers import ColumnEvidence, parse_number
from custdata.normalize import (
    email_key, id_number_key, normalize_date, normalize_text, phone_key,
)

# Canonical field -> synonyms, compared after `header_key` (case, spaces, - _ . ignored).
_COMMON_CUSTOMER = ["customerid", "customer", "customerkey", "clientid", "客户编号", "客户id",
                    "客户号", "会员id", "会员编号", "customerno", "customernumber",
                    "kundennummer", "kundennr", "numéroclient", "idcliente"]
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "contacts": {
        "external_id": ["externalid", "customerid", "customer", "clientid", "id", "客户编号",
                        "客户id", "客户号", "会员id", "会员编号", "编号", "customerno", "customernumber",
                        "kundennummer", "kundennr", "numéroclient", "idcliente"],
        "name": ["name", "fullname", "customername", "contactname", "contact", "姓名",
                 "客户名称", "联系人", "名字", "客户姓名", "客户", "contactperson",
                 "联系人姓名", "联系人名称", "客户全称"],
        "gender": ["gender", "sex", "性别"],
        "birth_date": ["birthdate", "birthday", "dob", "dateofbirth", "生日", "出生日期"],
        "company": ["company", "companyname", "organization", "organisation", "employer",
                    "account", "公司", "单位", "公司名称", "企业", "企业名称", "工作单位",
                    "accountname", "organizationname", "organisationname", "business",
                    "所属公司", "单位名称"],
        "title": ["title", "jobtitle", "position", "职位", "职务", "头衔"],
        "industry": ["industry", "sector", "行业"],
        "company_size": ["companysize", "employees", "headcount", "公司规模", "规模", "人数"],
        "email": ["email", "mail", "emailaddress", "邮箱", "电子邮件", "电子邮箱", "邮件",
                  "邮箱地址", "email1", "emailaddress1", "primaryemail", "workemail",
                  "businessemail", "personalemail", "email2", "emailaddress2"],
        "phone": ["phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "tel",
                  "telephone", "cell", "cellphone", "手机", "手机号", "手机号码", "电话",
                  "联系电话", "电话号码", "联系方式", "phone1", "phone2", "phone3",
                  "primaryphone", "mobilephone1", "mobile1", "businessphone", "workphone",
                  "homephone", "directphone", "officephone", "mobilenumber1", "手机1",
                  "电话1", "移动电话", "手机号码1", "联系手机", "telefon", "téléphone",
                  "teléfono", "handy", "mobil"],
        "id_number": ["idnumber", "idcard", "nationalid", "身份证", "身份证号", "身份证号码",
                      "证件号", "证件号码"],
        "address": ["address", "street", "streetaddress", "地址", "详细地址", "联系地址"],
        "city": ["city", "town", "城市", "市", "ort", "stadt", "ville", "ciudad"],
        "province": ["province", "state", "省份", "省", "地区"],
        "postal_code": ["postalcode", "postcode", "zip", "zipcode", "邮编", "邮政编码"],
        "country": ["country", "countrycode", "国家", "国家地区"],
        "source": ["source", "leadsource", "来源", "客户来源"],
        "owner": ["owner", "salesrep", "accountowner", "rep", "负责人", "销售", "跟进人"],
        "consent": ["consent", "optin", "同意", "授权", "营销同意"],
        "created_at": ["createdat", "created", "createddate", "创建时间", "创建日期"],
        "updated_at": ["updatedat", "updated", "lastmodified", "modified", "更新时间",
                       "修改时间"],
        "stage": ["stage", "lifecyclestage", "阶段", "生命周期"],
        "tier": ["tier", "valuetier", "层级", "价值层级"],
        "tags": ["tags", "tag", "labels", "标签"],
    },
    "orders": {
        "order_id": ["orderid", "order", "orderno", "ordernumber", "订单号", "订单编号", "单号",
                     "bestellnummer", "bestellnr", "numérodecommande"],
        "customer_id": _COMMON_CUSTOMER,
        "customer_email": ["email", "mail", "emailaddress", "邮箱", "电子邮件", "customeremail"],
        "customer_phone": ["phone", "phonenumber", "mobile", "tel", "telephone", "cell",
                           "手机", "手机号", "电话", "联系电话", "phone1", "mobilephone",
                           "手机号码", "customerphone"],
        "order_date": ["orderdate", "date", "orderedat", "下单日期", "订单日期", "日期",
                       "下单时间", "bestelldatum", "datum", "datedecommande"],
        "amount": ["amount", "total", "value", "price", "金额", "订单金额", "实付金额",
                   "sales", "revenue", "ordertotal", "totalamount", "totalprice", "销售额",
                   "应付金额", "成交金额", "betrag", "montant", "importe"],
        "currency": ["currency", "币种", "货币", "währung", "devise", "moneda"],
        "product": ["product", "item", "sku", "产品", "商品", "商品名称", "productname",
                    "itemname", "产品名称"],
        "category": ["category", "productcategory", "类别", "品类", "分类"],
        "status": ["status", "orderstatus", "状态", "订单状态"],
    },
    "interactions": {
        "customer_id": _COMMON_CUSTOMER,
        "customer_email": ["email", "mail", "邮箱"],
        "customer_phone": ["phone", "mobile", "tel", "手机", "电话"],
        "at": ["at", "date", "time", "datetime", "timestamp", "时间", "日期"],
        "channel": ["channel", "type", "medium", "渠道", "方式", "类型"],
        "direction": ["direction", "方向"],
        "outcome": ["outcome", "result", "结果"],
        "satisfaction": ["satisfaction", "rating", "score", "csat", "满意度", "评分"],
        "note": ["note", "notes", "comment", "comments", "备注", "内容", "记录"],
    },
}
STORED_FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": FIELDS_BY_KIND["contacts"],
    "orders": tuple(f for f in FIELDS_BY_KIND["orders"] if f != "customer_id"),
    "interactions": tuple(f for f in FIELDS_BY_KIND["interactions"] if f != "customer_id"),
}
_CUSTOMER_FIELDS = ("customer_id", "customer_email", "customer_phone")


def header_key(header: str) -> str:
    """Comparison form of a header: NFKC, lower case, without spaces, -, _ and ."""
    return re.sub(r"[\s\-_.]+", "", unicodedata.normalize("NFKC", header)).lower()


GIVEN_NAMES = ("firstname", "givenname", "forename", "名", "first", "vorname", "prénom",
               "nombre")
FAMILY_NAMES = ("lastname", "surname", "familyname", "姓", "姓氏", "last", "nachname", "nom",
                "apellido", "apellidos")


@dataclass(frozen=True)
class ColumnPlan:
    """Where each input column goes: a field name, or an `extra` key (field is None).

    A column joined with others into one field (--map A+B=F, or First Name + Last Name
    into name, where `names` says to join them as a name) has no `field` but `joined`,
    and `join` is its place among them.
    """

    field: str | None
    extra_key: str | None
    merge_extra: bool = False  # a column named `extra` holding a JSON object
    join: int | None = None
    names: bool = False
    joined: str | None = None


def _lookup(kind: str) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for fld, names in SYNONYMS[kind].items():
        for name in [fld, *names]:
            lookup.setdefault(header_key(name), fld)
    return lookup


def header_matcher(kind: str, mapping: dict[str, str]):
    """A test for the header row: True for a row of which at least two filled cells (or
    its one filled cell) name a field, a --map column or a first/last name."""
    known = set(_lookup(kind)) | {header_key(f) for f in FIELDS_BY_KIND[kind]}
    known |= {header_key(p) for src in mapping for p in [src, *src.split("+")]}
    if kind == "contacts":
        known |= {header_key(n) for n in (*GIVEN_NAMES, *FAMILY_NAMES)}

    def is_header(cells: list[str]) -> bool:
        filled = [c for c in cells if c.strip()]
        hits = sum(1 for c in filled if header_key(c) in known)
        return hits >= min(2, len(filled)) and hits > 0
    return is_header


def plan_columns(kind: str, header: list[str], mapping: dict[str, str]) -> list[ColumnPlan]:
    """Map each header to a field; `mapping` (SRC=FIELD from --map) overrides synonyms.

    First Name + Last Name (or 姓 + 名) are joined into `name` when no column is one.
    """
    allowed = set(SYNONYMS[kind]) | set(FIELDS_BY_KIND[kind])
    lookup = _lookup(kind)
    keys = [header_key(h) for h in header]
    forced = _forced_columns(kind, header, keys, mapping, allowed)
    exact = {k for k in keys if k in {header_key(f) for f in allowed}}
    taken: set[str] = {p.field or p.joined for p in forced.values()}  # type: ignore[misc]
    seen: dict[str, int] = {}
    plan = []
    for i, (name, key) in enumerate(zip(header, keys)):
        if i in forced:
            plan.append(forced[i])
            continue
        if key == "extra":
            plan.append(ColumnPlan(None, None, merge_extra=True))
            continue
        fld = lookup.get(key)
        # An exported file has both `id` (the exporting store's contact id) and
        # `external_id` / `customer_id`: the id, which a new store reassigns, is not data.
        if key == "id" and ("externalid" if kind == "contacts" else "customerid") in exact:
            plan.append(ColumnPlan(None, None))
            continue
        if fld is not None and key != header_key(fld) and header_key(fld) in exact:
            fld = None  # a synonym loses to the column literally named after the field
        if fld is not None and fld not in taken:
            taken.add(fld)
            plan.append(ColumnPlan(fld, None))
            continue
        base = fld or name  # a repeated field becomes email_2, email_3, ...
        seen[base] = seen.get(base, 1 if fld else 0) + 1
        plan.append(ColumnPlan(None, base if seen[base] == 1 else f"{base}_{seen[base]}"))
    if kind == "contacts" and "name" not in taken:
        plan = _joined_names(plan, keys)
    return plan


def _joined_names(plan: list[ColumnPlan], keys: list[str]) -> list[ColumnPlan]:
    """`plan` with the first given-name and family-name columns joined into `name`."""
    free = [p.field is None and p.joined is None for p in plan]
    given = next((i for i, k in enumerate(keys) if k in GIVEN_NAMES and free[i]), None)
    family = next((i for i, k in enumerate(keys) if k in FAMILY_NAMES and free[i]), None)
    if given is None or family is None:
        return plan
    plan = list(plan)
    plan[given] = ColumnPlan(None, None, join=0, names=True, joined="name")
    plan[family] = ColumnPlan(None, None, join=1, names=True, joined="name")
    return plan


def _forced_columns(kind: str, header: list[str], keys: list[str], mapping: dict[str, str],
                    allowed: set[str]) -> dict[int, ColumnPlan]:
    """Column index -> plan for each --map SRC=FIELD (SRC may be A+B: joined columns);
    an unknown SRC or FIELD is exit 2."""
    forced: dict[int, ColumnPlan] = {}
    for src, fld in mapping.items():
        if fld not in allowed:
            raise InputFileError(
                f"--map {src}={fld}: {fld!r} is not a {kind} field; fields: "
                f"{', '.join(sorted(allowed))}."
            )
        parts = [src] if header_key(src) in keys or "+" not in src else src.split("+")
        for pos, part in enumerate(parts):
            matches = [i for i, k in enumerate(keys) if k == header_key(part)]
            if not matches:
                raise InputFileError(
                    f"--map {src}={fld}: the file has no column {part.strip()!r}; its columns "
                    f"are: {', '.join(header)}."
                )
            forced[matches[0]] = ColumnPlan(None, None, join=pos, joined=fld) \
                if len(parts) > 1 else ColumnPlan(fld, None)
    return forced


def _fields(plan: list[ColumnPlan]) -> set[str | None]:
    return {p.field or p.joined for p in plan}


def check_identifiable(kind: str, plan: list[ColumnPlan], header: list[str]) -> None:
    """Refuse a file whose header cannot identify any customer (a --map mistake, usually)."""
    fields = _fields(plan)
    need = {"contacts": {"external_id", "email", "phone"}}.get(kind, set(_CUSTOMER_FIELDS))
    if header and not fields & need:
        wanted = "external_id, email or phone" if kind == "contacts" else "customer_id, email or phone"
        raise InputFileError(
            f"No column of this file names the customer ({wanted}); its columns are: "
            f"{', '.join(header)}. Use --map COLUMN=FIELD."
        )


def unmapped_people_fields(kind: str, plan: list[ColumnPlan]) -> bool:
    """True for a contacts plan where no column is the name, email or phone."""
    return kind == "contacts" and not _fields(plan) & {"name", "email", "phone"}


def mapped_columns(header: list[str], plan: list[ColumnPlan]) -> frozenset[str]:
    """Names of the columns read as fields (their old copies in `extra` are dropped)."""
    return frozenset(name for name, col in zip(header, plan) if col.field or col.joined)


def describe_plan(header: list[str], plan: list[ColumnPlan]) -> list[str]:
    """One line per input column: "Phone 1 -> phone", "微信 -> extra[微信]", ... ."""
    lines = []
    for name, col in zip(header, plan):
        if col.field:
            lines.append(f"{name} -> {col.field}")
        elif col.joined:
            lines.append(f"{name} -> {col.joined} (joined, part {(col.join or 0) + 1})")
        elif col.merge_extra:
            lines.append(f"{name} -> extra (merged JSON object)")
        elif col.extra_key is not None:
            lines.append(f"{name} -> extra[{col.extra_key}]")
        else:
            lines.append(f"{name} -> (not imported: the exporting store's own id)")
    return lines


@dataclass
class Record:
    """One stored row to be: field values as read, extra, and derived keys/columns."""

    line: int
    raw: str
    values: dict[str, str]
    extra: dict[str, str]
    keys: dict[str, str | None]
    derived: dict[str, object]

    def __reduce__(self) -> tuple:  # pickled as a plain tuple: half the cost (read-ahead)
        return Record, (self.line, self.raw, self.values, self.extra, self.keys, self.derived)


def to_record(kind: str, rec: RawRecord, plan: list[ColumnPlan], *, region: str,
              dayfirst: bool, decimal: str | None = None) -> Record | Reject | Skipped:
    """A RawRecord as a Record, a Reject saying what is structurally wrong with it, or
    Skipped for a blank or totals row. `decimal` is the amount column's decimal mark
    ("," or "."; None: each amount is read only if it reads one way)."""
    if rec.error:
        return Reject(rec.line, rec.raw, rec.error)
    if rec.undecodable:
        return Reject(rec.line, rec.raw, "undecodable bytes for the file's encoding")
    if len(rec.cells) != len(plan):
        if is_blank(rec.cells):
            return Skipped(rec.line, "blank row")
        if totals_label(rec.cells) and not any("@" in c for c in rec.cells):
            return Skipped(rec.line, "totals row")
        return Reject(rec.line, rec.raw,
                      f"wrong number of fields: {len(rec.cells)} instead of {len(plan)}")
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    joins: dict[str, dict[int, str]] | None = None
    for cell, col in zip(rec.cells, plan):
        if col.field:
            values[col.field] = cell
        elif col.merge_extra:
            extra.update(_extra_object(cell))
        elif col.extra_key is not None:
            if cell != "":
                extra[col.extra_key] = cell
        elif col.join is not None:
            joins = joins or {}
            joins.setdefault(col.joined, {})[col.join] = cell
    if joins:
        values.update(_joined(joins, plan))
    if rec.cells[0][:1] in TOTAL_INITIALS and totals_label(rec.cells) \
            and not _names_someone(values, rec.cells):
        return Skipped(rec.line, "totals row")
    if kind == "contacts":
        return _contact(rec, values, extra, region)
    return _linked(kind, rec, values, extra, region, dayfirst, decimal)


def _names_someone(values: dict[str, str], cells: list[str]) -> bool:
    """Whether a row has a name or email besides its label ("合计" in the name column is
    no one; a number in the phone column does not make it a contact either)."""
    label = next((c for c in cells if c.strip()), "")
    return any((values.get(f) or "").strip() and values.get(f) != label
               for f in ("name", "email", "customer_email"))


def _joined(joins: dict[str, dict[int, str]], plan: list[ColumnPlan]) -> dict[str, str]:
    names = {col.joined for col in plan if col.names}
    return {fld: join_name(parts.get(0, ""), parts.get(1, "")) if fld in names
            else join_cells([parts[k] for k in sorted(parts)]) for fld, parts in joins.items()}


def _extra_object(cell: str) -> dict[str, str]:
    if not cell.strip():
        return {}
    try:
        data = json.loads(cell)
    except ValueError:
        return {"extra": cell}
    if not isinstance(data, dict):
        return {"extra": cell}
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in data.items()}


def _contact(rec: RawRecord, values: dict[str, str], extra: dict[str, str],
             region: str) -> Record | Reject | Skipped:
    ext = values.get("external_id") or None
    keys = {
        "external_id": ext if ext and ext.strip() else None,
        "email": email_key(values.get("email")),
        "phone": phone_key(values.get("phone"), region),
        "id_number": id_number_key(values.get("id_number")),
    }
    if not (keys["external_id"] or keys["email"] or keys["phone"]):
        if is_blank(rec.cells):
            return Skipped(rec.line, "blank row")
        return Reject(rec.line, rec.raw, "no identifying value (external_id, email or phone)")
    return Record(rec.line, rec.raw, values, extra, keys, {})


def _linked(kind: str, rec: RawRecord, values: dict[str, str], extra: dict[str, str],
            region: str, dayfirst: bool, decimal: str | None) -> Record | Reject | Skipped:
    ref = {f: values.pop(f, "") for f in _CUSTOMER_FIELDS}
    keys = {
        "customer_id": ref["customer_id"] if ref["customer_id"].strip() else None,
        "email": email_key(ref["customer_email"] or None),
        "phone": phone_key(ref["customer_phone"] or None, region),
    }
    if not any(keys.values()):
        if is_blank(rec.cells):
            return Skipped(rec.line, "blank row")
        return Reject(rec.line, rec.raw, "no customer (customer_id, email or phone is empty)")
    customer_ref = ref["customer_id"] if keys["customer_id"] else \
        next(v for v in ref.values() if v.strip())
    date_field = "order_date" if kind == "orders" else "at"
    derived: dict[str, object] = {"customer_ref": customer_ref,
                                  "day": parse_day(values.get(date_field), dayfirst)}
    if kind == "orders":
        amount = parse_amount(values.get("amount"), decimal)
        derived["amount_value"] = amount
        derived["status_norm"] = normalize_status(values.get("status"), amount)
    else:
        derived["satisfaction_value"] = parse_satisfaction(values.get("satisfaction"))
    return Record(rec.line, rec.raw, values, extra, keys, derived)


def parse_day(raw: str | None, dayfirst: bool) -> str | None:
    """ISO date of a date or timestamp cell, or None when it does not parse."""
    if not raw or not raw.strip():
        return None
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":  # the common ISO form, fast
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            pass
    text = normalize_text(raw)
    try:
        return normalize_date(text, dayfirst=dayfirst)
    except InvalidValue:
        pass
    head = re.split(r"[ T]", text, maxsplit=1)[0]
    try:
        return normalize_date(head, dayfirst=dayfirst)
    except InvalidValue:
        return None


_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def parse_amount(raw: str | None, decimal: str | None = ".") -> float | None:
    """Number in an amount cell, None if not one: "¥1,234.50" -> 1234.5, "(200)" -> -200.0,
    "1.234,50 €" -> 1234.5. `decimal` is the column's decimal mark ("," or "."), None
    when its values did not tell (then "1,234" is None: it could be either)."""
    if raw is None:
        return None
    if decimal == "." and _PLAIN_AMOUNT.fullmatch(raw):  # the common "872.56", as it is
        return float(raw)
    try:
        return parse_number(raw, decimal=decimal)
    except InvalidValue:
        return None


def amount_evidence(table_records: Iterable[RawRecord], plan: list[ColumnPlan]
                    ) -> ColumnEvidence | None:
    """What the amount column's values say about its decimal mark (None: no such column).

    Reads every record: the first pass of an import whose amounts need deciding."""
    column = next((i for i, col in enumerate(plan) if col.field == "amount"), None)
    if column is None:
        return None
    found = ColumnEvidence()
    width = len(plan)
    for rec in table_records:
        if len(rec.cells) == width and not rec.error:
            found.add(rec.cells[column], rec.line)
    return found


_STATUS = {
    "paid": "paid", "complete": "paid", "completed": "paid", "success": "paid", "ok": "paid",
    "shipped": "paid", "delivered": "paid", "已支付": "paid", "已付款": "paid", "已完成": "paid",
    "完成": "paid", "成功": "paid",
    "refunded": "refunded", "refund": "refunded", "returned": "refunded", "已退款": "refunded",
    "退款": "refunded", "退货": "refunded",
    "cancelled": "cancelled", "canceled": "cancelled", "void": "cancelled", "已取消": "cancelled",
    "取消": "cancelled",
}


def normalize_status(raw: str | None, amount: float | None) -> str | None:
    """paid / refunded / cancelled: missing means paid, a negative amount is a refund.

    None for a status text that is none of these (the order is then left out of reports
    and flagged by `audit`).
    """
    status = _STATUS.get(raw)  # the common case: a value the table spells as it is
    if status is None:
        text = normalize_text(raw or "").lower()
        status = _STATUS.get(text) if text else "paid"
    if status == "paid" and amount is not None and amount < 0:
        return "refunded"
    return status


def parse_satisfaction(raw: str | None) -> int | None:
    """A 1-5 score from "4", "4/5", "4.0"; None when empty or out of range."""
    if not raw or not raw.strip():
        return None
    text = normalize_text(raw).split("/")[0].strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value == int(value) and 1 <= value <= 5 else None


def content_key(kind: str, record: Record, seen: dict[int, int]) -> str:
    """A stable key for a row without a natural id: a hash of its content plus occurrence.

    The n-th identical row of a file gets "#n", so re-importing the file finds the same
    keys and two identical real events in one file are both kept.
    """
    payload = json.dumps([kind, record.keys, record.values, record.extra], sort_keys=True,
                         ensure_ascii=False)
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).digest()[:16]
    # Counted under a 64-bit int (a third of the memory of the hex text, for files of
    # millions of rows); a clash would only number a row "#2" the same way every time.
    slot = int.from_bytes(digest[:8], "big")
    seen[slot] = seen.get(slot, 0) + 1
    return f"{digest.hex()}#{seen[slot]}"


def changed_values(stored: dict, incoming: dict[str, str], fields: Iterable[str]) -> dict[str, str]:
    """Fields whose non-blank incoming value differs from the stored one.

    A blank cell never overwrites a stored value: importing a partial file loses nothing.
    """
    out = {}
    for fld in fields:
        new = incoming.get(fld)
        if new is None or not new.strip():
            continue
        if stored.get(fld) != new:
            out[fld] = new
    return out
