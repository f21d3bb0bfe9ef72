//! `modules`: the Python modules dbt's Jinja offers, as far as packages use them:
//! `modules.re` (Python's regular expressions), `modules.datetime` (`date`, `datetime`,
//! `timedelta`) and `modules.pytz` (`timezone`, `localize`, `utc`).
//!
//! Jinja's `+` and `-` cannot be given to these objects (minijinja has no operator hooks), so
//! `date - timedelta(1)` is an error; comparisons work.

use std::cmp::Ordering;
use std::sync::{Arc, LazyLock};

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};

use super::python::PyList;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// `modules`.
#[derive(Debug)]
pub struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "re" => Value::from_object(Re),
            "datetime" => Value::from_object(DatetimeModule),
            "pytz" => Value::from_object(Pytz),
            _ => return None,
        })
    }
}

// ---- re ----

/// `modules.re`: Python's regular expressions (lookaround and backreferences included).
#[derive(Debug)]
struct Re;

/// `re.IGNORECASE`, as Python numbers it.
const IGNORECASE: i64 = 2;

fn compile(pattern: &str, flags: i64) -> Result<fancy_regex::Regex, Error> {
    let pattern = if flags & IGNORECASE != 0 {
        format!("(?i){pattern}")
    } else {
        pattern.to_string()
    };
    fancy_regex::Regex::new(&pattern)
        .map_err(|e| invalid(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Python's replacement syntax (`\1`, `\g<name>`) in the regex crate's (`${1}`, `${name}`).
fn replacement(python: &str) -> String {
    let mut out = String::new();
    let mut chars = python.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    out.push_str(&format!("${{{d}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars
                        .by_ref()
                        .skip_while(|c| *c == '<')
                        .take_while(|c| *c != '>')
                        .collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_call(regex: &fancy_regex::Regex, method: &str, args: &[Value]) -> Result<Value, Error> {
    let failed = |e: fancy_regex::Error| invalid(format!("regular expression failed: {e}"));
    match method {
        "sub" => {
            let (repl, text, count): (String, String, Option<usize>) = from_args(args)?;
            let repl = replacement(&repl);
            let out = regex
                .try_replacen(&text, count.unwrap_or(0), repl.as_str())
                .map_err(failed)?;
            Ok(Value::from(out.into_owned()))
        }
        "match" | "search" | "fullmatch" => {
            let (text,): (String,) = from_args(args)?;
            let found = regex.captures(&text).map_err(failed)?;
            Ok(match found {
                Some(c) => {
                    let whole = c.get(0).expect("group 0");
                    let ok = match method {
                        "match" => whole.start() == 0,
                        "fullmatch" => whole.start() == 0 && whole.end() == text.len(),
                        _ => true,
                    };
                    if ok {
                        MatchValue::value(&c)
                    } else {
                        Value::from(())
                    }
                }
                None => Value::from(()),
            })
        }
        "findall" => {
            let (text,): (String,) = from_args(args)?;
            let mut out = Vec::new();
            for c in regex.captures_iter(&text) {
                let c = c.map_err(failed)?;
                let groups: Vec<Value> = (1..c.len())
                    .map(|i| Value::from(c.get(i).map_or("", |m| m.as_str())))
                    .collect();
                out.push(match groups.len() {
                    0 => Value::from(c.get(0).map_or("", |m| m.as_str())),
                    1 => groups[0].clone(),
                    _ => Value::from(groups),
                });
            }
            Ok(PyList::value(out))
        }
        "split" => {
            let (text,): (String,) = from_args(args)?;
            let parts: Vec<Value> = regex
                .split(&text)
                .map(|p| p.map(Value::from).map_err(failed))
                .collect::<Result<_, _>>()?;
            Ok(PyList::value(parts))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

impl Object for Re {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "IGNORECASE" | "I" => Some(Value::from(IGNORECASE)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "escape" {
            let (text,): (String,) = from_args(args)?;
            return Ok(Value::from(fancy_regex::escape(&text).into_owned()));
        }
        let Some((pattern, rest)) = args.split_first() else {
            return Err(invalid(format!("re.{method}() needs a pattern")));
        };
        let pattern = pattern
            .as_str()
            .ok_or_else(|| invalid(format!("re.{method}(): the pattern must be a string")))?;
        // re.sub(p, repl, s, count=0, flags=0), re.match(p, s, flags=0), ...
        let (rest, flags) = split_flags(rest)?;
        let regex = compile(pattern, flags)?;
        if method == "compile" {
            return Ok(Value::from_object(Pattern(regex)));
        }
        regex_call(&regex, method, &rest)
    }
}

/// The trailing `flags=` keyword of a `re` call, and the other arguments.
fn split_flags(args: &[Value]) -> Result<(Vec<Value>, i64), Error> {
    match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => {
            let kwargs = Kwargs::try_from(last.clone())?;
            let flags = kwargs.get::<Option<i64>>("flags")?.unwrap_or(0);
            let count: Option<usize> = kwargs.get("count")?;
            kwargs.assert_all_used()?;
            let mut rest = rest.to_vec();
            if let Some(count) = count {
                rest.push(Value::from(count));
            }
            Ok((rest, flags))
        }
        _ => Ok((args.to_vec(), 0)),
    }
}

/// `re.compile(p)`: a pattern with the module's methods, without the pattern argument.
#[derive(Debug)]
struct Pattern(fancy_regex::Regex);

impl Object for Pattern {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        regex_call(&self.0, method, args)
    }
}

/// A match: `.group(i)`, `.groups()`, `.start()`, `.end()`, `.span()`.
#[derive(Debug)]
struct MatchValue {
    groups: Vec<Option<(usize, usize, String)>>,
}

impl MatchValue {
    fn value(captures: &fancy_regex::Captures) -> Value {
        let groups = (0..captures.len())
            .map(|i| {
                captures
                    .get(i)
                    .map(|m| (m.start(), m.end(), m.as_str().to_string()))
            })
            .collect();
        Value::from_object(MatchValue { groups })
    }

    fn group(&self, i: usize) -> Result<&Option<(usize, usize, String)>, Error> {
        self.groups
            .get(i)
            .ok_or_else(|| invalid(format!("no such group: {i}")))
    }
}

impl Object for MatchValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (i,): (Option<usize>,) = from_args(args)?;
        let i = i.unwrap_or(0);
        match method {
            "group" => Ok(Value::from(self.group(i)?.as_ref().map(|g| g.2.clone()))),
            "groups" => Ok(Value::from(
                self.groups[1..]
                    .iter()
                    .map(|g| Value::from(g.as_ref().map(|g| g.2.clone())))
                    .collect::<Vec<_>>(),
            )),
            "start" => Ok(Value::from(self.group(i)?.as_ref().map(|g| g.0))),
            "end" => Ok(Value::from(self.group(i)?.as_ref().map(|g| g.1))),
            "span" => {
                let g = self.group(i)?.as_ref();
                Ok(Value::from(vec![
                    Value::from(g.map(|g| g.0)),
                    Value::from(g.map(|g| g.1)),
                ]))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

// ---- datetime ----

/// `modules.datetime`: the module, with its classes `date`, `datetime` and `timedelta`.
#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "date" => Value::from_object(Class::Date),
            "datetime" => Value::from_object(Class::Datetime),
            "timedelta" => Value::from_object(Class::Timedelta),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Class {
    Date,
    Datetime,
    Timedelta,
}

impl Object for Class {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match **self {
            Class::Date => {
                let (y, m, d): (i32, u32, u32) = from_args(args)?;
                let date = NaiveDate::from_ymd_opt(y, m, d)
                    .ok_or_else(|| invalid(format!("date({y}, {m}, {d}) is not a date")))?;
                Ok(PyDate::value(date))
            }
            Class::Datetime => new_datetime(args),
            Class::Timedelta => {
                let args = PythonArgs::parse(args)?;
                let names = [
                    ("days", 86_400e6),
                    ("seconds", 1e6),
                    ("microseconds", 1.0),
                    ("milliseconds", 1e3),
                    ("minutes", 60e6),
                    ("hours", 3_600e6),
                    ("weeks", 604_800e6),
                ];
                let mut total_micros = 0.0;
                for (i, (name, micros)) in names.into_iter().enumerate() {
                    total_micros += args.number(i, name)?.unwrap_or(0.0) * micros;
                }
                args.done()?;
                Ok(Value::from_object(PyTimedelta(Duration::microseconds(
                    total_micros.round() as i64,
                ))))
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (**self, method) {
            (Class::Date, "today") => Ok(PyDate::value(Utc::now().date_naive())),
            (Class::Date, "fromisoformat") => {
                let (text,): (String,) = from_args(args)?;
                NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                    .map(PyDate::value)
                    .map_err(|e| invalid(format!("date.fromisoformat({text:?}): {e}")))
            }
            (Class::Datetime, "today") => Ok(PyDateTime::naive(chrono::Local::now().naive_local())),
            (Class::Datetime, "now" | "utcnow") => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                let now = Utc::now();
                Ok(match tz.as_ref().and_then(tz_of) {
                    Some(tz) => PyDateTime::aware(now.with_timezone(&tz).fixed_offset()),
                    None if method == "utcnow" => PyDateTime::naive(now.naive_utc()),
                    None => PyDateTime::naive(chrono::Local::now().naive_local()),
                })
            }
            (Class::Datetime, "strptime") => {
                let (text, format): (String, String) = from_args(args)?;
                parse_datetime(&text, &format)
            }
            (Class::Datetime, "fromisoformat") => {
                let (text,): (String,) = from_args(args)?;
                from_isoformat(&text)
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Python-style arguments: each by position or by keyword.
struct PythonArgs {
    positional: Vec<Value>,
    kwargs: Kwargs,
}

impl PythonArgs {
    fn parse(args: &[Value]) -> Result<Self, Error> {
        let (positional, kwargs): (minijinja::value::Rest<Value>, Kwargs) = from_args(args)?;
        Ok(PythonArgs {
            positional: positional.0,
            kwargs,
        })
    }

    /// The `i`-th positional argument, else the keyword `name`.
    fn value(&self, i: usize, name: &str) -> Result<Option<Value>, Error> {
        match self.positional.get(i) {
            Some(value) => Ok(Some(value.clone())),
            None => Ok(self
                .kwargs
                .get::<Option<Value>>(name)?
                .filter(|v| !v.is_none())),
        }
    }

    fn number(&self, i: usize, name: &str) -> Result<Option<f64>, Error> {
        self.value(i, name)?.map(f64::try_from).transpose()
    }

    fn int(&self, i: usize, name: &str, default: u32) -> Result<u32, Error> {
        Ok(self
            .value(i, name)?
            .map(u32::try_from)
            .transpose()?
            .unwrap_or(default))
    }

    fn done(&self) -> Result<(), Error> {
        self.kwargs.assert_all_used()
    }
}

/// `datetime(year, month, day, hour=0, minute=0, second=0, microsecond=0, tzinfo=None)`.
fn new_datetime(args: &[Value]) -> Result<Value, Error> {
    let args = PythonArgs::parse(args)?;
    let year = args
        .value(0, "year")?
        .map(i32::try_from)
        .transpose()?
        .unwrap_or(1);
    let (month, day) = (args.int(1, "month", 1)?, args.int(2, "day", 1)?);
    let (hour, minute) = (args.int(3, "hour", 0)?, args.int(4, "minute", 0)?);
    let (second, micro) = (args.int(5, "second", 0)?, args.int(6, "microsecond", 0)?);
    let tz = args.value(7, "tzinfo")?;
    args.done()?;
    let naive = NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_micro_opt(hour, minute, second, micro))
        .ok_or_else(|| invalid("datetime(...): not a valid date and time"))?;
    Ok(match tz {
        // As pytz: a zone given as tzinfo keeps its first offset (local mean time).
        Some(tz) => {
            let offset = first_offset(&tz)?;
            let local = offset
                .from_local_datetime(&naive)
                .single()
                .ok_or_else(|| invalid("datetime(...): no such local time"))?;
            PyDateTime::aware(local)
        }
        None => PyDateTime::naive(naive),
    })
}

/// A zone's offset before its first transition, to the minute (pytz's `tzinfo=` behaviour).
fn first_offset(tz: &Value) -> Result<FixedOffset, Error> {
    let zone = tz_of(tz).ok_or_else(|| invalid("tzinfo must be a pytz timezone"))?;
    let early = NaiveDate::from_ymd_opt(1800, 1, 1)
        .expect("a date")
        .and_hms_opt(0, 0, 0)
        .expect("a time");
    let seconds = zone
        .offset_from_utc_datetime(&early)
        .fix()
        .local_minus_utc();
    let minutes = (seconds as f64 / 60.0).round() as i32;
    Ok(FixedOffset::east_opt(minutes * 60).expect("an offset within a day"))
}

fn parse_datetime(text: &str, format: &str) -> Result<Value, Error> {
    if let Ok(aware) = DateTime::parse_from_str(text, format) {
        return Ok(PyDateTime::aware(aware));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
        return Ok(PyDateTime::naive(naive));
    }
    NaiveDate::parse_from_str(text, format)
        .map(|d| PyDateTime::naive(d.and_hms_opt(0, 0, 0).expect("midnight")))
        .map_err(|e| invalid(format!("strptime({text:?}, {format:?}): {e}")))
}

fn from_isoformat(text: &str) -> Result<Value, Error> {
    let text = text.trim();
    if let Ok(aware) = DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1)) {
        return Ok(PyDateTime::aware(aware));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(PyDateTime::naive(naive));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(aware) = DateTime::parse_from_str(text, format) {
            return Ok(PyDateTime::aware(aware));
        }
    }
    parse_datetime(text, "%Y-%m-%d").map_err(|_| {
        invalid(format!(
            "datetime.fromisoformat({text:?}): not an ISO date or time"
        ))
    })
}

/// A `date`.
#[derive(Debug)]
struct PyDate(NaiveDate);

impl PyDate {
    fn value(date: NaiveDate) -> Value {
        Value::from_object(PyDate(date))
    }
}

impl Object for PyDate {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = self.0;
        Some(match key.as_str()? {
            "year" => Value::from(d.year()),
            "month" => Value::from(d.month()),
            "day" => Value::from(d.day()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let d = self.0;
        match method {
            "isoformat" => Ok(Value::from(d.format("%Y-%m-%d").to_string())),
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(d.format(&format).to_string()))
            }
            "weekday" => Ok(Value::from(d.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(d.weekday().number_from_monday())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        other.downcast_ref::<PyDate>().map(|o| self.0.cmp(&o.0))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A `datetime`, naive or with an offset.
#[derive(Debug)]
struct PyDateTime {
    naive: NaiveDateTime,
    offset: Option<FixedOffset>,
}

impl PyDateTime {
    fn naive(naive: NaiveDateTime) -> Value {
        Value::from_object(PyDateTime {
            naive,
            offset: None,
        })
    }

    fn aware(at: DateTime<FixedOffset>) -> Value {
        Value::from_object(PyDateTime {
            naive: at.naive_local(),
            offset: Some(*at.offset()),
        })
    }

    fn with_offset(&self) -> Option<DateTime<FixedOffset>> {
        self.offset?.from_local_datetime(&self.naive).single()
    }

    /// Python's `str()`: `1997-09-29 06:14:00`, microseconds and offset when there are.
    fn python_str(&self, separator: char) -> String {
        let mut text = self
            .naive
            .format(&format!("%Y-%m-%d{separator}%H:%M:%S"))
            .to_string();
        if self.naive.nanosecond() >= 1_000 {
            text.push_str(&format!(".{:06}", self.naive.nanosecond() / 1_000));
        }
        if let Some(offset) = self.offset {
            let seconds = offset.local_minus_utc();
            let sign = if seconds < 0 { '-' } else { '+' };
            let seconds = seconds.abs();
            text.push_str(&format!(
                "{sign}{:02}:{:02}",
                seconds / 3600,
                seconds % 3600 / 60
            ));
        }
        text
    }
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = self.naive;
        Some(match key.as_str()? {
            "year" => Value::from(t.year()),
            "month" => Value::from(t.month()),
            "day" => Value::from(t.day()),
            "hour" => Value::from(t.hour()),
            "minute" => Value::from(t.minute()),
            "second" => Value::from(t.second()),
            "microsecond" => Value::from(t.nanosecond() / 1_000),
            "tzinfo" => match self.offset {
                Some(offset) => Value::from(offset.to_string()),
                None => Value::from(()),
            },
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "isoformat" => {
                let (sep,): (Option<String>,) = from_args(args)?;
                let sep = sep.and_then(|s| s.chars().next()).unwrap_or('T');
                Ok(Value::from(self.python_str(sep)))
            }
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(match self.with_offset() {
                    Some(at) => at.format(&format).to_string(),
                    None => self.naive.format(&format).to_string(),
                }))
            }
            "date" => Ok(PyDate::value(self.naive.date())),
            "replace" => {
                let args = PythonArgs::parse(args)?;
                let t = self.naive;
                let year = match args.value(0, "year")? {
                    Some(y) => i32::try_from(y)?,
                    None => t.year(),
                };
                let (month, day) = (
                    args.int(1, "month", t.month())?,
                    args.int(2, "day", t.day())?,
                );
                let (hour, minute) = (
                    args.int(3, "hour", t.hour())?,
                    args.int(4, "minute", t.minute())?,
                );
                let second = args.int(5, "second", t.second())?;
                let micro = args.int(6, "microsecond", t.nanosecond() / 1_000)?;
                let naive = NaiveDate::from_ymd_opt(year, month, day)
                    .and_then(|d| d.and_hms_micro_opt(hour, minute, second, micro))
                    .ok_or_else(|| invalid("replace(...): not a valid date and time"))?;
                args.done()?;
                Ok(Value::from_object(PyDateTime {
                    naive,
                    offset: self.offset,
                }))
            }
            "astimezone" => {
                let (tz,): (Value,) = from_args(args)?;
                let zone =
                    tz_of(&tz).ok_or_else(|| invalid("astimezone() takes a pytz timezone"))?;
                let at = self
                    .with_offset()
                    .ok_or_else(|| invalid("astimezone() of a naive datetime"))?;
                Ok(PyDateTime::aware(at.with_timezone(&zone).fixed_offset()))
            }
            "timestamp" => {
                let at = self
                    .with_offset()
                    .map(|a| a.timestamp_micros())
                    .unwrap_or_else(|| self.naive.and_utc().timestamp_micros());
                Ok(Value::from(at as f64 / 1e6))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<PyDateTime>()?;
        match (self.with_offset(), other.with_offset()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            (None, None) => Some(self.naive.cmp(&other.naive)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.python_str(' '))
    }
}

/// A `timedelta`.
#[derive(Debug)]
struct PyTimedelta(Duration);

impl Object for PyTimedelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = self.0;
        Some(match key.as_str()? {
            "days" => Value::from(d.num_days()),
            "seconds" => Value::from(d.num_seconds() - d.num_days() * 86_400),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(
                self.0.num_microseconds().unwrap_or(0) as f64 / 1e6,
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        other
            .downcast_ref::<PyTimedelta>()
            .map(|o| self.0.cmp(&o.0))
    }
}

/// `a + b` in a template that names dates (see [`super::arithmetic`]): a date or datetime
/// moved by a timedelta (on either side), two timedeltas added, else minijinja's `+`.
pub fn date_add(a: Value, b: Value) -> Result<Value, Error> {
    if is_timedelta(&b) && (is_date(&a) || is_timedelta(&a)) {
        return shift(&a, &b, 1, "+");
    }
    if is_timedelta(&a) && is_date(&b) {
        return shift(&b, &a, 1, "+");
    }
    plain(Op::Add, a, b)
}

/// `a - b` likewise: a date or datetime moved back by a timedelta, the timedelta between two
/// dates or two datetimes, else minijinja's `-`.
pub fn date_sub(a: Value, b: Value) -> Result<Value, Error> {
    if is_timedelta(&b) && (is_date(&a) || is_timedelta(&a)) {
        return shift(&a, &b, -1, "-");
    }
    if let (Some(x), Some(y)) = (
        a.downcast_object_ref::<PyDate>(),
        b.downcast_object_ref::<PyDate>(),
    ) {
        return Ok(Value::from_object(PyTimedelta(x.0 - y.0)));
    }
    if let (Some(x), Some(y)) = (
        a.downcast_object_ref::<PyDateTime>(),
        b.downcast_object_ref::<PyDateTime>(),
    ) {
        let utc = |d: &PyDateTime| {
            d.naive
                - d.offset.map_or(Duration::zero(), |o| {
                    Duration::seconds(o.local_minus_utc().into())
                })
        };
        if x.offset.is_some() != y.offset.is_some() {
            return Err(invalid(format!(
                "{a} - {b}: cannot subtract a datetime with a time zone and one without"
            )));
        }
        return Ok(Value::from_object(PyTimedelta(utc(x) - utc(y))));
    }
    plain(Op::Sub, a, b)
}

fn is_date(value: &Value) -> bool {
    value.downcast_object_ref::<PyDate>().is_some()
        || value.downcast_object_ref::<PyDateTime>().is_some()
}

fn is_timedelta(value: &Value) -> bool {
    value.downcast_object_ref::<PyTimedelta>().is_some()
}

enum Op {
    Add,
    Sub,
}

/// minijinja's own `+` or `-` of two values that are not dates, each expression compiled
/// once: every `+` and `-` of a template that names dates comes here.
fn plain(op: Op, a: Value, b: Value) -> Result<Value, Error> {
    type Compiled = minijinja::Expression<'static, 'static>;
    static PLAIN: LazyLock<minijinja::Environment<'static>> =
        LazyLock::new(minijinja::Environment::new);
    static ADD: LazyLock<Compiled> = LazyLock::new(|| {
        PLAIN
            .compile_expression("a + b")
            .expect("a valid expression")
    });
    static SUB: LazyLock<Compiled> = LazyLock::new(|| {
        PLAIN
            .compile_expression("a - b")
            .expect("a valid expression")
    });
    let expression = match op {
        Op::Add => &ADD,
        Op::Sub => &SUB,
    };
    expression.eval(minijinja::context! { a, b })
}

fn shift(a: &Value, b: &Value, sign: i32, op: &str) -> Result<Value, Error> {
    let Some(delta) = b.downcast_object_ref::<PyTimedelta>().map(|d| d.0 * sign) else {
        return Err(invalid(format!(
            "{a} {op} {b}: the right side is not a timedelta"
        )));
    };
    if let Some(date) = a.downcast_object_ref::<PyDate>() {
        // Python's date ignores the timedelta's seconds.
        return Ok(PyDate::value(date.0 + Duration::days(delta.num_days())));
    }
    if let Some(at) = a.downcast_object_ref::<PyDateTime>() {
        return Ok(Value::from_object(PyDateTime {
            naive: at.naive + delta,
            offset: at.offset,
        }));
    }
    if let Some(other) = a.downcast_object_ref::<PyTimedelta>() {
        return Ok(Value::from_object(PyTimedelta(other.0 + delta)));
    }
    Err(invalid(format!(
        "{a} {op} timedelta: the left side must be a date, datetime or timedelta, not {}",
        a.kind()
    )))
}

// ---- pytz ----

/// `modules.pytz`: `timezone(name)` and `utc`.
#[derive(Debug)]
struct Pytz;

impl Object for Pytz {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from_object(PyTimezone(Tz::UTC))),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let (name,): (String,) = from_args(args)?;
                let zone: Tz = name
                    .parse()
                    .map_err(|_| invalid(format!("pytz.timezone({name:?}): unknown time zone")))?;
                Ok(Value::from_object(PyTimezone(zone)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A pytz time zone: `localize(naive)`, `zone`.
#[derive(Debug)]
struct PyTimezone(Tz);

fn tz_of(value: &Value) -> Option<Tz> {
    value.downcast_object_ref::<PyTimezone>().map(|tz| tz.0)
}

impl Object for PyTimezone {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" => Some(Value::from(self.0.name())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "localize" => {
                let (at,): (Value,) = from_args(args)?;
                let naive = at
                    .downcast_object_ref::<PyDateTime>()
                    .map(|t| t.naive)
                    .ok_or_else(|| invalid("localize() takes a naive datetime"))?;
                let local = self
                    .0
                    .from_local_datetime(&naive)
                    .earliest()
                    .ok_or_else(|| {
                        invalid(format!("{naive} does not exist in {}", self.0.name()))
                    })?;
                Ok(PyDateTime::aware(local.fixed_offset()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}
