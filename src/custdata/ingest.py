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

from custdata.errors import InputFileError, clip, InvalidValue
from custdata.io import RawRecord
from custdata.models import FIELDS_BY_KIND, Reject
from custdata.normalize import normalize_date, normalize_text
from custdata.normalize.keys import email_key, key_functions, phone_key

# Canonical field -> synonyms, compared after `header_key` (case, spaces, - _ . ignored).
_COMMON_CUSTOMER = ["customerid", "customer", "customerkey", "clientid", "客户编号", "客户id",
                    "客户号", "会员id", "会员编号"]
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "contacts": {
        "external_id": ["externalid", "customerid", "customer", "clientid", "id", "客户编号",
                        "客户id", "客户号", "会员id", "会员编号", "编号"],
        "name": ["name", "fullname", "customername", "contactname", "contact", "姓名",
                 "客户名称", "联系人", "名字", "客户姓名", "客户"],
        "gender": ["gender", "sex", "性别"],
        "birth_date": ["birthdate", "birthday", "dob", "dateofbirth", "生日", "出生日期"],
        "company": ["company", "companyname", "organization", "organisation", "employer",
                    "account", "公司", "单位", "公司名称", "企业", "企业名称", "工作单位"],
        "title": ["title", "jobtitle", "position", "职位", "职务", "头衔"],
        "industry": ["industry", "sector", "行业"],
        "company_size": ["companysize", "employees", "headcount", "公司规模", "规模", "人数"],
        "email": ["email", "mail", "emailaddress", "邮箱", "电子邮件", "电子邮箱", "邮件",
                  "邮箱地址"],
        "phone": ["phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "tel",
                  "telephone", "cell", "cellphone", "手机", "手机号", "手机号码", "电话",
                  "联系电话", "电话号码", "联系方式"],
        "id_number": ["idnumber", "idcard", "nationalid", "身份证", "身份证号", "身份证号码",
                      "证件号", "证件号码"],
        "address": ["address", "street", "streetaddress", "地址", "详细地址", "联系地址"],
        "city": ["city", "town", "城市", "市"],
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
        "order_id": ["orderid", "order", "orderno", "ordernumber", "订单号", "订单编号", "单号"],
        "customer_id": _COMMON_CUSTOMER,
        "customer_email": ["email", "mail", "emailaddress", "邮箱", "电子邮件"],
        "customer_phone": ["phone", "phonenumber", "mobile", "tel", "telephone", "cell",
                           "手机", "手机号", "电话", "联系电话"],
        "order_date": ["orderdate", "date", "orderedat", "下单日期", "订单日期", "日期",
                       "下单时间"],
        "amount": ["amount", "total", "value", "price", "金额", "订单金额", "实付金额"],
        "currency": ["currency", "币种", "货币"],
        "product": ["product", "item", "sku", "产品", "商品", "商品名称"],
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


@dataclass(frozen=True)
class ColumnPlan:
    """Where each input column goes: a field name, or an `extra` key (field is None)."""

    field: str | None
    extra_key: str | None
    merge_extra: bool = False  # a column named `extra` holding a JSON object


def plan_columns(kind: str, header: list[str], mapping: dict[str, str]) -> list[ColumnPlan]:
    """Map each header to a field; `mapping` (SRC=FIELD from --map) overrides synonyms."""
    allowed = set(SYNONYMS[kind]) | set(FIELDS_BY_KIND[kind])
    lookup = {}
    for fld, names in SYNONYMS[kind].items():
        for name in [fld, *names]:
            lookup.setdefault(header_key(name), fld)
    keys = [header_key(h) for h in header]
    forced = _forced_columns(kind, header, keys, mapping, allowed)
    exact = {k for k in keys if k in {header_key(f) for f in allowed}}
    taken: set[str] = set(forced.values())
    seen: dict[str, int] = {}
    plan = []
    for i, (name, key) in enumerate(zip(header, keys)):
        if i in forced:
            plan.append(ColumnPlan(forced[i], None))
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
    return plan


def _forced_columns(kind: str, header: list[str], keys: list[str], mapping: dict[str, str],
                    allowed: set[str]) -> dict[int, str]:
    """Column index -> field for each --map SRC=FIELD; an unknown SRC or FIELD is exit 2."""
    forced: dict[int, str] = {}
    for src, fld in mapping.items():
        if fld not in allowed:
            raise InputFileError(
                f"--map {src}={fld}: {fld!r} is not a {kind} field; fields: "
                f"{', '.join(sorted(allowed))}."
            )
        matches = [i for i, k in enumerate(keys) if k == header_key(src)]
        if not matches:
            raise InputFileError(
                f"--map {src}={fld}: the file has no column {src!r}; its columns are: "
                f"{', '.join(header)}."
            )
        forced[matches[0]] = fld
    return forced


def check_identifiable(kind: str, plan: list[ColumnPlan], header: list[str]) -> None:
    """Refuse a file whose header cannot identify any customer (a --map mistake, usually)."""
    fields = {p.field for p in plan}
    need = {"contacts": {"external_id", "email", "phone"}}.get(kind, set(_CUSTOMER_FIELDS))
    if header and not fields & need:
        wanted = "external_id, email or phone" if kind == "contacts" else "customer_id, email or phone"
        raise InputFileError(
            f"No column of this file names the customer ({wanted}); its columns are: "
            f"{clip(', '.join(header))}.", hint="map"
        )


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
              dayfirst: bool) -> Record | Reject:
    """A RawRecord as a Record, or a Reject saying what is structurally wrong with it."""
    if rec.error:
        return Reject(rec.line, rec.raw, rec.error)
    if rec.undecodable:
        return Reject(rec.line, rec.raw, "undecodable bytes for the file's encoding")
    if len(rec.cells) != len(plan):
        return Reject(rec.line, rec.raw,
                      f"wrong number of fields: {len(rec.cells)} instead of {len(plan)}")
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    for cell, col in zip(rec.cells, plan):
        if col.field:
            values[col.field] = cell
        elif col.merge_extra:
            extra.update(_extra_object(cell))
        elif col.extra_key is not None and cell != "":
            extra[col.extra_key] = cell
    if kind == "contacts":
        return _contact(rec, values, extra, region)
    return _linked(kind, rec, values, extra, region, dayfirst)


def _extra_object(cell: str) -> dict[str, str]:
    if not cell.strip():
        return {}
    try:
        data = json.loads(cell)
        if not isinstance(data, dict):
            return {"extra": cell}
        return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in data.items()}
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read: kept as text
        return {"extra": cell}


def _contact(rec: RawRecord, values: dict[str, str], extra: dict[str, str],
             region: str) -> Record | Reject:
    ext = values.get("external_id") or None
    keys: dict[str, str | None] = {"external_id": ext if ext and ext.strip() else None}
    for kind, _, key in key_functions(region):
        keys[kind] = key(values.get(kind))
    if not (keys["external_id"] or keys["email"] or keys["phone"]):
        return Reject(rec.line, rec.raw, "no identifying value (external_id, email or phone)")
    return Record(rec.line, rec.raw, values, extra, keys, {})


def _linked(kind: str, rec: RawRecord, values: dict[str, str], extra: dict[str, str],
            region: str, dayfirst: bool) -> Record | Reject:
    ref = {f: values.pop(f, "") for f in _CUSTOMER_FIELDS}
    keys = {
        "customer_id": ref["customer_id"] if ref["customer_id"].strip() else None,
        "email": email_key(ref["customer_email"] or None),
        "phone": phone_key(ref["customer_phone"] or None, region),
    }
    if not any(keys.values()):
        return Reject(rec.line, rec.raw, "no customer (customer_id, email or phone is empty)")
    customer_ref = ref["customer_id"] if keys["customer_id"] else \
        next(v for v in ref.values() if v.strip())
    date_field = "order_date" if kind == "orders" else "at"
    derived: dict[str, object] = {"customer_ref": customer_ref,
                                  "day": parse_day(values.get(date_field), dayfirst)}
    if kind == "orders":
        amount = parse_amount(values.get("amount"))
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
_AMOUNT_JUNK = re.compile(r"[\s,¥￥$€£]|RMB|CNY|USD|EUR|元", re.IGNORECASE)


def parse_amount(raw: str | None) -> float | None:
    """Number in an amount cell: "¥1,234.50" -> 1234.5, "(200)" -> -200.0; None if not one."""
    if raw is None:
        return None
    if _PLAIN_AMOUNT.fullmatch(raw):  # the common "872.56": float() reads it as it is
        return float(raw)
    text = _AMOUNT_JUNK.sub("", normalize_text(raw))
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    try:
        value = float(text)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return -abs(value) if negative else value


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
