"""Input columns -> fields: header synonyms, --map (joins too), first + last names. Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from custdata.errors import InputFileError, clip
from custdata.models import FIELDS_BY_KIND

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
        "order_date": ["orderdate", "date", "orderedat", "createdat", "下单日期", "订单日期", "日期",
                       "下单时间", "bestelldatum", "datum", "datedecommande"],
        "amount": ["amount", "total", "value", "price", "金额", "订单金额", "实付金额",
                   "sales", "revenue", "ordertotal", "totalamount", "totalprice", "销售额",
                   "应付金额", "成交金额", "betrag", "montant", "importe"],
        "currency": ["currency", "币种", "货币", "währung", "devise", "moneda"],
        "product": ["product", "item", "sku", "产品", "商品", "商品名称", "productname",
                    "itemname", "产品名称", "lineitemname"],
        "category": ["category", "productcategory", "类别", "品类", "分类"],
        "status": ["status", "orderstatus", "状态", "订单状态", "financialstatus"],
        # order lines (several rows to an order): the line's own id and its quantity
        "line_id": ["rowid", "lineid", "lineitemid", "lineno", "linenumber", "行号",
                    "明细编号", "positionsnummer"],
        "quantity": ["quantity", "qty", "lineitemquantity", "units", "数量", "购买数量",
                     "menge", "anzahl", "quantité", "cantidad"],
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
                f"Mapping {clip(f'{src}={fld}')}: {clip(fld)!r} is not a {kind} field; fields: "
                f"{', '.join(sorted(allowed))}."
            )
        parts = [src] if header_key(src) in keys or "+" not in src else src.split("+")
        for pos, part in enumerate(parts):
            matches = [i for i, k in enumerate(keys) if k == header_key(part)]
            if not matches:
                raise InputFileError(
                    f"Mapping {clip(f'{src}={fld}')}: the file has no column "
                    f"{clip(part.strip())!r}; its columns "
                    f"are: {clip(', '.join(header))}.", hint="map"
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
            f"{clip(', '.join(header))}.", hint="map"
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
