//! The reference server's log lines, made cheaply enough for every request.
//!
//! A line reads
//!
//! ```text
//! 2026-12-07T11:06:56.254463Z  INFO request{id="OcB4RJTC-2" method="GET" path="/api/me"}: authgate::app: request status=200 latency_us=64
//! ```
//!
//! the same text as `tracing-subscriber`'s default format (only the level is coloured on a
//! terminal). The `request{...}` part is the label `request_scope` keeps in a task-local
//! (not a span). [`LineFormat`] writes the rest itself: the timestamp from a per-thread
//! cache of the current second, values without going through `Debug` when they need no
//! escaping. Strings from fields are quoted and escaped as `Debug` escapes them, and
//! control characters in messages and other values are escaped too, so no value can start
//! a line or send a terminal escape sequence.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::request_scope::RequestLabel;

/// The line format (see the module's documentation). `ansi` colours the level.
pub(crate) struct LineFormat {
    pub(crate) ansi: bool,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut w)?;
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => ("ERROR", "\x1b[31m"),
            Level::WARN => (" WARN", "\x1b[33m"),
            Level::INFO => (" INFO", "\x1b[32m"),
            Level::DEBUG => ("DEBUG", "\x1b[34m"),
            Level::TRACE => ("TRACE", "\x1b[35m"),
        };
        if self.ansi {
            w.write_str(level.1)?;
            w.write_str(level.0)?;
            w.write_str("\x1b[0m ")?;
        } else {
            w.write_str(level.0)?;
            w.write_char(' ')?;
        }
        crate::request_scope::with_label(|r| write_label(&mut w, r)).transpose()?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                w.write_str(span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        w.write_char('{')?;
                        w.write_str(fields)?;
                        w.write_char('}')?;
                    }
                }
                w.write_str(": ")?;
            }
        }
        w.write_str(meta.target())?;
        w.write_str(": ")?;
        event.record(&mut Values {
            w: &mut w,
            first: true,
            result: Ok(()),
        });
        w.write_char('\n')
    }
}

/// `request{id="..." method="GET" path="/api/me"}: `, the path without its query (it can
/// carry codes).
fn write_label(w: &mut Writer<'_>, r: &RequestLabel) -> fmt::Result {
    w.write_str("request{id=")?;
    match r.id.as_ref().and_then(|v| v.to_str().ok()) {
        Some(id) => write_quoted(w, id)?,
        None => w.write_str("\"-\"")?,
    }
    w.write_str(" method=")?;
    write_quoted(w, r.method.as_str())?;
    w.write_str(" path=")?;
    write_quoted(w, r.uri.path())?;
    w.write_str("}: ")
}

/// The field formatter for spans: the same `name=value` form as events.
#[derive(Default)]
pub(crate) struct LineFields;

impl<'writer> FormatFields<'writer> for LineFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut w: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut v = Values {
            w: &mut w,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

/// Writes an event's or a span's fields: the message as it is, other values as
/// `name=value`, strings quoted and escaped as `Debug` would (a newline in a client_id
/// cannot start a fake line).
struct Values<'a, 'w> {
    w: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Values<'_, '_> {
    fn name(&mut self, field: &Field) -> fmt::Result {
        if !self.first {
            self.w.write_char(' ')?;
        }
        self.first = false;
        self.w.write_str(field.name())?;
        self.w.write_char('=')
    }

    fn record(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = if field.name() == "message" {
                self.first = false;
                value(self.w)
            } else {
                self.name(field).and_then(|()| value(self.w))
            };
        }
    }
}

impl Visit for Values<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record(field, |w| Escaped(w).write_str(value));
        } else {
            self.record(field, |w| write_quoted(w, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, |w| write_u64(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, |w| {
            if value < 0 {
                w.write_char('-')?;
            }
            write_u64(w, value.unsigned_abs())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, |w| write!(Escaped(w), "{value:?}"));
    }
}

/// Passes text through with its control characters (newlines, escape sequences, C1
/// controls) escaped as `Debug` escapes them: a message or a `Display`/`Debug` value
/// cannot start a line or drive a terminal. Printable ASCII is copied as it is.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            if c.is_control() {
                write!(self.0, "{}", c.escape_debug())?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A string in double quotes, escaped as `Debug` escapes it; printable ASCII without a
/// quote or a backslash (nearly every value) is copied as it is.
fn write_quoted(w: &mut Writer<'_>, s: &str) -> fmt::Result {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        w.write_char('"')?;
        w.write_str(s)?;
        w.write_char('"')
    } else {
        write!(w, "{s:?}")
    }
}

fn write_u64(w: &mut Writer<'_>, n: u64) -> fmt::Result {
    write_padded(w, n, 1)
}

/// `n` in decimal, zero-padded to `width` digits (at most 20).
fn write_padded(w: &mut Writer<'_>, mut n: u64, width: usize) -> fmt::Result {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while n > 0 || i > digits.len() - width.clamp(1, 20) {
        i -= 1;
        // A single decimal digit: the narrowing is exact.
        #[allow(clippy::cast_possible_truncation)]
        {
            digits[i] = b'0' + (n % 10) as u8;
        }
        n /= 10;
    }
    // Only ASCII digits were written.
    w.write_str(std::str::from_utf8(&digits[i..]).map_err(|_| fmt::Error)?)
}

thread_local! {
    /// The last second this thread formatted, and its `YYYY-MM-DDTHH:MM:SS` text.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-12-07T11:06:56.254463Z  `: UTC, microseconds, two spaces as before.
// A log line's time is the wall clock's, not the engine's injected clock.
#[allow(clippy::disallowed_methods)]
fn write_timestamp(w: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            // The CLI's RFC 3339 time, without its `Z`: the microseconds go before it.
            let mut text = crate::utc(i64::try_from(secs).unwrap_or(i64::MAX));
            text.pop();
            *cached = (secs, text);
        }
        w.write_str(&cached.1)
    })?;
    w.write_char('.')?;
    write_padded(w, u64::from(now.subsec_micros()), 6)?;
    w.write_str("Z ")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http::{HeaderValue, Method};

    use super::*;
    use crate::request_scope::in_request;

    /// Lines written into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::DEBUG)
            .event_format(LineFormat { ansi: false })
            .fmt_fields(LineFields)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn label(id: Option<&str>) -> RequestLabel {
        RequestLabel {
            id: id.map(|i| HeaderValue::from_str(i).unwrap()),
            method: Method::POST,
            uri: "/token?code=secret".parse().unwrap(),
        }
    }

    #[test]
    fn a_line_has_time_level_request_target_message_and_fields() {
        let text = lines_of(|| {
            in_request(label(Some("abc-1")), || {
                tracing::info!(target: "authgate::app", client_id = "demo", status = 200_u64, ok = true, delta = -3_i64, "token");
            });
        });
        let (time, rest) = text.split_at(27);
        assert!(
            time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{text}"
        );
        assert_eq!(
            rest,
            "  INFO request{id=\"abc-1\" method=\"POST\" path=\"/token\"}: authgate::app: token client_id=\"demo\" status=200 ok=true delta=-3\n"
        );
        assert!(!text.contains("secret"), "the query is never written");
    }

    #[test]
    fn values_are_quoted_and_escaped_so_no_value_starts_a_line() {
        let text = lines_of(|| {
            tracing::warn!(
                client_id = "a\"b\\c\n2026-01-01T00:00:00Z  INFO forged",
                shown = %"plain",
                "refused"
            );
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(" WARN "), "{text}");
        assert!(
            text.contains(
                r#"refused client_id="a\"b\\c\n2026-01-01T00:00:00Z  INFO forged" shown=plain"#
            ),
            "{text}"
        );
    }

    #[test]
    fn control_characters_in_messages_and_display_values_are_escaped() {
        let text = lines_of(|| {
            let from_network = "x\n2026-01-01T00:00:00Z  INFO forged \u{1b}[2J\u{9b}";
            tracing::info!(value = %from_network, "seen {from_network}");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{9b}'),
            "{text}"
        );
        assert!(
            text.contains(r"seen x\n2026-01-01T00:00:00Z  INFO forged \u{1b}[2J\u{9b} value=x\n"),
            "{text}"
        );
    }

    #[test]
    fn outside_a_request_there_is_no_label_and_a_missing_id_shows_as_a_dash() {
        let text = lines_of(|| {
            tracing::error!("alone");
            in_request(label(None), || tracing::debug!("in"));
        });
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with("ERROR authgate::logline::tests: alone"),
            "{text}"
        );
        assert!(
            lines[1].ends_with(
                "DEBUG request{id=\"-\" method=\"POST\" path=\"/token\"}: authgate::logline::tests: in"
            ),
            "{text}"
        );
    }

    #[test]
    fn dates_are_the_civil_calendar() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_796_601_599, "2026-12-06T23:59:59"),
            (4_107_542_400, "2100-03-01T00:00:00"),
        ] {
            // The calendar the timestamp's cached second comes from.
            assert_eq!(crate::utc(secs), format!("{text}Z"));
        }
    }
}
