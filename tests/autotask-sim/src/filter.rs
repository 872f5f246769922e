//! The `Companies/query` body (QueryModel: `MaxRecords`, `IncludeFields`, `filter`) and its
//! filter evaluation (notes B3, [confirmed A1 A3 A2]): groups `and`/`or` with `items`, and
//! `eq noteq gt gte lt lte beginsWith endsWith contains exist notExist in notIn` on
//! `id`, `companyName`, `companyType`, `isActive`, `parentCompanyID`, `webAddress`,
//! `lastActivityDate`, or on one UDF (`"udf": true`). Keys, op names and field names are
//! case-insensitive; string comparisons too. A top-level list is an implicit `and`. An unknown
//! field or op, a bad value, or a second UDF answers an error message (served as 500 with
//! `errors`).

use crate::data::SimCompany;
use serde_json::Value;
use std::cmp::Ordering;

/// A parsed query.
#[derive(Clone, Debug)]
pub struct Query {
    pub max_records: Option<i64>,
    pub include_fields: Option<Vec<String>>,
    pub filter: Vec<Value>,
}

/// Value of `key` in an object, key matched case-insensitively.
fn get<'a>(o: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

impl Query {
    /// Parses a QueryModel body.
    #[cfg(test)]
    pub fn parse(body: &[u8]) -> Result<Query, String> {
        Self::parse_for(body, &companies(crate::ChangeFields::Both))
    }

    /// Parses a query on `entity` (its queryable fields).
    pub fn parse_for(body: &[u8], entity: &Entity) -> Result<Query, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("The query body is not valid JSON: {e}"))?;
        let o = v.as_object().ok_or("The query body must be a JSON object.")?;
        let max_records = match get(o, "MaxRecords") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or("MaxRecords must be an integer.")?),
        };
        let include_fields = match get(o, "IncludeFields") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter().map(|f| f.as_str().map(str::to_string).ok_or("IncludeFields must list field names.")).collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err("IncludeFields must be an array.".into()),
        };
        let filter = match get(o, "filter") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err("filter must be an array.".into()),
        };
        let q = Query { max_records, include_fields, filter };
        let mut udfs = Vec::new();
        for f in &q.filter {
            validate(f, &mut udfs, 0, entity)?;
        }
        Ok(q)
    }

    /// Whether the filter has any condition.
    pub fn has_condition(&self) -> bool {
        !self.filter.is_empty()
    }

    /// Whether `c` matches every top-level item.
    pub fn matches(&self, c: &dyn Record) -> bool {
        self.filter.iter().all(|f| eval(f, c))
    }
}

/// An entity's name (for error texts) and the fields a filter may name.
pub struct Entity {
    pub name: &'static str,
    pub fields: Vec<&'static str>,
}

/// A record a filter is evaluated against.
pub trait Record {
    /// The value of `field` (any case), or of the UDF `field` when `udf`.
    fn field(&self, field: &str, udf: bool) -> Scalar;
}

const COMPANY_FIELDS: &[&str] = &[
    "id", "companyName", "companyType", "isActive", "parentCompanyID", "webAddress", "lastActivityDate", "lastTrackedModifiedDateTime",
];

/// Companies whose change-date fields are queryable only as `change_fields` says.
pub fn companies(change_fields: crate::ChangeFields) -> Entity {
    let drop = match change_fields {
        crate::ChangeFields::Both => None,
        crate::ChangeFields::LastActivityDateOnly => Some("lastTrackedModifiedDateTime"),
        crate::ChangeFields::LastTrackedModifiedOnly => Some("lastActivityDate"),
    };
    Entity { name: "Company", fields: COMPANY_FIELDS.iter().copied().filter(|f| Some(*f) != drop).collect() }
}
const OPS: &[&str] = &[
    "eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains", "exist", "notExist", "in", "notIn",
];

fn is_true(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn validate(f: &Value, udfs: &mut Vec<String>, depth: usize, entity: &Entity) -> Result<(), String> {
    if depth > 32 {
        return Err("The filter is nested too deeply.".into());
    }
    let o = f.as_object().ok_or("Each filter item must be an object.")?;
    let op = get(o, "op").and_then(Value::as_str).ok_or("Each filter item needs an op.")?;
    if op.eq_ignore_ascii_case("and") || op.eq_ignore_ascii_case("or") {
        let items = get(o, "items").and_then(Value::as_array).ok_or("A grouping op needs items.")?;
        if items.len() > 500 {
            return Err("A grouping is limited to 500 conditions.".into());
        }
        return items.iter().try_for_each(|i| validate(i, udfs, depth + 1, entity));
    }
    if !OPS.iter().any(|k| k.eq_ignore_ascii_case(op)) {
        return Err(format!("The operator {op} is not valid."));
    }
    let field = get(o, "field").and_then(Value::as_str).ok_or("Each condition needs a field.")?;
    if is_true(get(o, "udf")) {
        if !udfs.iter().any(|u| u.eq_ignore_ascii_case(field)) {
            udfs.push(field.to_string());
        }
        if udfs.len() > 1 {
            return Err("You can only query by one user-defined field at a time.".into());
        }
    } else if !entity.fields.iter().any(|k| k.eq_ignore_ascii_case(field)) {
        return Err(format!("Unable to find {field} in the {} entity.", entity.name));
    }
    let needs_value = !(op.eq_ignore_ascii_case("exist") || op.eq_ignore_ascii_case("notExist"));
    if needs_value && get(o, "value").is_none_or(Value::is_null) {
        return Err(format!("The condition on {field} ({op}) needs a value."));
    }
    if (op.eq_ignore_ascii_case("in") || op.eq_ignore_ascii_case("notIn")) && !get(o, "value").is_some_and(Value::is_array) {
        return Err(format!("The {op} condition on {field} needs an array value."));
    }
    Ok(())
}

/// A company's field value as a comparable scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Int(i64),
    Bool(bool),
    Str(String),
    Null,
}

impl Record for SimCompany {
    fn field(&self, field: &str, udf: bool) -> Scalar {
        field_value(self, field, udf)
    }
}

fn field_value(c: &SimCompany, field: &str, udf: bool) -> Scalar {
    if udf {
        return c
            .udfs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(field))
            .and_then(|(_, v)| v.clone())
            .map_or(Scalar::Null, Scalar::Str);
    }
    match field.to_ascii_lowercase().as_str() {
        "id" => Scalar::Int(c.id),
        "companyname" => Scalar::Str(c.company_name.clone()),
        "companytype" => Scalar::Int(c.company_type),
        "isactive" => Scalar::Bool(c.is_active),
        "parentcompanyid" => c.parent_company_id.map_or(Scalar::Null, Scalar::Int),
        "webaddress" => c.web_address.clone().map_or(Scalar::Null, Scalar::Str),
        "lastactivitydate" => Scalar::Str(c.last_activity_date.clone()),
        "lasttrackedmodifieddatetime" => Scalar::Str(c.last_tracked_modified.clone()),
        _ => Scalar::Null,
    }
}

/// Compares a company's value with a filter value (numbers and numeric strings alike, booleans
/// and "true"/"false" alike, strings case-insensitively; dates as their first 19 characters).
fn compare(a: &Scalar, v: &Value) -> Option<Ordering> {
    match a {
        Scalar::Int(x) => {
            let y = match v {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
                Value::String(s) => s.trim().parse().ok()?,
                _ => return None,
            };
            Some(x.cmp(&y))
        }
        Scalar::Bool(x) => {
            let y = match v {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return None,
            };
            Some(x.cmp(&y))
        }
        Scalar::Str(x) => {
            let y = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            let norm = |s: &str| {
                let l = s.to_lowercase();
                if looks_like_date(&l) { l.chars().take(19).collect() } else { l }
            };
            Some(norm(x).cmp(&norm(&y)))
        }
        Scalar::Null => None,
    }
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && (b[10] == b't' || b[10] == b' ')
}

fn text(a: &Scalar) -> Option<String> {
    match a {
        Scalar::Str(s) => Some(s.to_lowercase()),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Null => None,
    }
}

fn eval(f: &Value, c: &dyn Record) -> bool {
    let Some(o) = f.as_object() else { return false };
    let op = get(o, "op").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    if op == "and" || op == "or" {
        let items = get(o, "items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        return if op == "and" { items.iter().all(|i| eval(i, c)) } else { items.iter().any(|i| eval(i, c)) };
    }
    let field = get(o, "field").and_then(Value::as_str).unwrap_or("");
    let a = c.field(field, is_true(get(o, "udf")));
    let v = get(o, "value").unwrap_or(&Value::Null);
    let needle = || v.as_str().map(str::to_lowercase).unwrap_or_else(|| v.to_string().to_lowercase());
    match op.as_str() {
        "eq" => compare(&a, v) == Some(Ordering::Equal),
        "noteq" => compare(&a, v) != Some(Ordering::Equal),
        "gt" => compare(&a, v) == Some(Ordering::Greater),
        "gte" => matches!(compare(&a, v), Some(Ordering::Greater | Ordering::Equal)),
        "lt" => compare(&a, v) == Some(Ordering::Less),
        "lte" => matches!(compare(&a, v), Some(Ordering::Less | Ordering::Equal)),
        "beginswith" => text(&a).is_some_and(|t| t.starts_with(&needle())),
        "endswith" => text(&a).is_some_and(|t| t.ends_with(&needle())),
        "contains" => text(&a).is_some_and(|t| t.contains(&needle())),
        "exist" => a != Scalar::Null && a != Scalar::Str(String::new()),
        "notexist" => a == Scalar::Null || a == Scalar::Str(String::new()),
        "in" => v.as_array().is_some_and(|vs| vs.iter().any(|x| compare(&a, x) == Some(Ordering::Equal))),
        "notin" => !v.as_array().is_some_and(|vs| vs.iter().any(|x| compare(&a, x) == Some(Ordering::Equal))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_companies;
    use serde_json::json;

    fn q(v: Value) -> Result<Query, String> {
        Query::parse(v.to_string().as_bytes())
    }

    #[test]
    fn ops_and_groups() {
        let cs = sample_companies(200, 7);
        let count = |v: Value| {
            let q = q(v).unwrap();
            cs.iter().filter(|c| q.matches(*c)).count()
        };
        let customers = cs.iter().filter(|c| c.is_active_customer()).count();
        assert_eq!(
            count(json!({"filter":[{"op":"and","items":[{"op":"eq","field":"isactive","value":true},{"op":"eq","field":"companyType","value":"1"}]}]})),
            customers
        );
        assert_eq!(
            count(json!({"Filter":[{"field":"CompanyType","op":"eq","value":1},{"field":"IsActive","op":"eq","value":"true"}]})),
            customers
        );
        assert_eq!(count(json!({"filter":[{"op":"gte","field":"id","value":0}]})), 200);
        assert_eq!(count(json!({"filter":[{"op":"gt","field":"id","value":cs[9].id}]})), 190);
        assert_eq!(count(json!({"filter":[{"op":"lt","field":"id","value":cs[9].id}]})), 9);
        assert_eq!(count(json!({"filter":[{"op":"in","field":"id","value":[cs[0].id, cs[5].id, 1]}]})), 2);
        assert_eq!(
            count(json!({"filter":[{"op":"or","items":[{"op":"eq","field":"id","value":cs[0].id},{"op":"noteq","field":"isActive","value":true}]}]})),
            cs.iter().filter(|c| c.id == cs[0].id || !c.is_active).count()
        );
        assert_eq!(
            count(json!({"filter":[{"op":"exist","field":"Microsoft 365 Tenant ID","udf":true}]})),
            cs.iter().filter(|c| c.tenant_udf().is_some()).count()
        );
        let d = "2024-06-01T00:00:00Z";
        assert_eq!(
            count(json!({"filter":[{"op":"gte","field":"lastActivityDate","value":d}]})),
            cs.iter().filter(|c| c.last_activity_date.as_str() >= d).count()
        );
        assert_eq!(count(json!({"filter":[{"op":"beginsWith","field":"companyName","value":"acme"}]})),
            cs.iter().filter(|c| c.company_name.to_lowercase().starts_with("acme")).count());
    }

    #[test]
    fn errors() {
        assert!(q(json!({"filter":[{"op":"eq","field":"nonsense","value":1}]})).unwrap_err().contains("Unable to find nonsense"));
        assert!(q(json!({"filter":[{"op":"like","field":"id","value":1}]})).is_err());
        assert!(q(json!({"filter":[{"op":"eq","field":"id"}]})).is_err());
        assert!(q(json!({"filter":[{"op":"exist","field":"A","udf":true},{"op":"exist","field":"B","udf":true}]})).is_err());
        assert!(q(json!({"filter":[{"op":"in","field":"id","value":1}]})).is_err());
        assert!(Query::parse(b"{").is_err());
        assert!(!q(json!({"MaxRecords": 10})).unwrap().has_condition());
    }
}
