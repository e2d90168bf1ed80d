//! The scenarios driven by `wrk` (Debian's package): one Lua script per scenario, a warm-up
//! run, then a measured run whose figures come from wrk's own report. The server's CPU is
//! read from /proc around the measured run, wrk's from the shell's `times` (its children's
//! user and system time), so each figure comes with the load generator's own CPU share.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::load::{self, Scenario, ScenarioResult};
use crate::{Options, Target, CLIENT_ID, CLIENT_SECRET};

/// Whether `wrk` runs here.
pub(crate) fn available() -> bool {
    Command::new("wrk")
        .arg("-v")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("wrk"))
}

/// Installs Debian's `wrk` when it is missing and this process may (root, apt-get there).
pub(crate) fn ensure() -> Result<(), String> {
    if available() {
        return Ok(());
    }
    eprintln!("wrk is missing: installing Debian's package ...");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&["install", "-y", "-q", "wrk"])
        || (apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "wrk"]));
    if installed && available() {
        Ok(())
    } else {
        Err("wrk is not installed and could not be (`apt-get install wrk`); or run with --driver builtin".into())
    }
}

fn basic() -> String {
    STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
}

/// A Lua string literal.
pub(crate) fn lua_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What a scenario needs besides the script: a token, a pool of tokens, a signed-in session.
pub(crate) struct Inputs<'a> {
    /// A client's token; a user's (scope `openid profile`) for UserInfo.
    pub(crate) token: &'a str,
    pub(crate) pool_file: Option<&'a Path>,
    pub(crate) session: Option<(&'a str, &'a str)>,
}

/// A script that sends one fixed request: set through `wrk.method`, `wrk.headers` and
/// `wrk.body`, so wrk builds it once and runs no Lua per request.
fn fixed(method: &str, headers: &[(&str, String)], body: Option<&str>) -> String {
    let mut lua = format!("wrk.method = {}\n", lua_str(method));
    for (name, value) in headers {
        lua.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_str(name),
            lua_str(value)
        ));
    }
    if let Some(b) = body {
        lua.push_str(&format!("wrk.body = {}\n", lua_str(b)));
    }
    lua
}

/// Lua setting `h`, the headers of an authenticated form POST (the bench client's Basic
/// credentials).
pub(crate) fn form_lua() -> String {
    format!(
        r#"local h = {{ ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic {}" }}
"#,
        basic()
    )
}

/// The fixed client_credentials token request (POST /token).
pub(crate) fn issue_lua() -> String {
    fixed(
        "POST",
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("Authorization", format!("Basic {}", basic())),
        ],
        Some("grant_type=client_credentials&scope=profile%20read"),
    )
}

/// The Lua script of a scenario and the path its URL names.
fn script(s: Scenario, inputs: &Inputs<'_>) -> (String, &'static str) {
    let form_headers = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("Authorization", format!("Basic {}", basic())),
    ];
    let form = form_lua();
    match s {
        Scenario::Issue => (issue_lua(), "/token"),
        Scenario::Bearer => (
            fixed(
                "GET",
                &[("Authorization", format!("Bearer {}", inputs.token))],
                None,
            ),
            "/api/me",
        ),
        Scenario::Introspect => (
            fixed(
                "POST",
                &form_headers,
                Some(&format!("token={}", inputs.token)),
            ),
            "/introspect",
        ),
        Scenario::Revoke => (
            format!("{form}{}", cycle(inputs, "/revoke", "token=")),
            "/revoke",
        ),
        Scenario::UserInfo => (
            fixed(
                "GET",
                &[("Authorization", format!("Bearer {}", inputs.token))],
                None,
            ),
            "/userinfo",
        ),
        Scenario::Register => (
            fixed(
                "POST",
                &[("Content-Type", "application/json".to_owned())],
                Some(load::REGISTRATION),
            ),
            "/register",
        ),
        Scenario::DevicePoll => (
            format!(
                r#"{form}{}flows = 0
bad = 0
response = function(status, headers, body)
  if status == 400 and (body:find('"authorization_pending"', 1, true) or body:find('"slow_down"', 1, true)) then
    flows = flows + 1
  else
    bad = bad + 1
  end
end
"#,
                cycle(
                    inputs,
                    "/token",
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code="
                )
            ) + FLOW_TOTALS,
            "/token",
        ),
        Scenario::CodeFlow | Scenario::OidcCodeFlow => {
            let (cookies, csrf) = inputs.session.unwrap_or_default();
            let oidc = s == Scenario::OidcCodeFlow;
            (
                format!(
                    r#"{form}local authorize = wrk.format("POST", {}, {{ ["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = {} }}, {})
local verifier = {}
local codes = {{}}
flows = 0
bad = 0
request = function()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", "/token", h, "grant_type=authorization_code&code=" .. code .. "&code_verifier=" .. verifier)
  end
  return authorize
end
response = function(status, headers, body)
  if status == 302 then
    local loc = headers["Location"] or headers["location"] or ""
    local code = loc:match("[?&]code=([^&]+)")
    if code then codes[#codes + 1] = code else bad = bad + 1 end
  elseif status == 200 and ({oidc} == false or body:find('"id_token"', 1, true)) then
    flows = flows + 1
  else
    bad = bad + 1
  end
end
"#,
                    lua_str(&format!("/authorize?{}", load::authorize_query(s))),
                    lua_str(cookies),
                    lua_str(&format!("csrf={csrf}&confirm=yes")),
                    lua_str(load::PKCE_VERIFIER),
                ) + FLOW_TOTALS,
                "/authorize",
            )
        }
    }
}

/// Lua that sends POSTs to `path` cycling through the pool file's lines, each the form
/// `body_prefix` + line, built once at start (uses the form headers `h`).
fn cycle(inputs: &Inputs<'_>, path: &str, body_prefix: &str) -> String {
    pool_lua(
        &inputs
            .pool_file
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        &format!(
            "wrk.format(\"POST\", {}, h, {} .. line)",
            lua_str(path),
            lua_str(body_prefix)
        ),
    )
}

/// Lua that builds one request per line of the pool file at start (`request_expr`, a Lua
/// expression of `line`) and sends them in turn.
pub(crate) fn pool_lua(pool_file: &str, request_expr: &str) -> String {
    format!(
        r#"local reqs = {{}}
for line in io.lines({}) do
  reqs[#reqs + 1] = {request_expr}
end
local i = 0
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
"#,
        lua_str(pool_file)
    )
}

/// Adds up the threads' flow counters at the end and prints them for the harness.
const FLOW_TOTALS: &str = r#"local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function(summary, latency, requests)
  local f, b = 0, 0
  for _, t in ipairs(threads) do
    f = f + t:get("flows")
    b = b + t:get("bad")
  end
  io.write(string.format("harness-flows: %d\nharness-bad: %d\n", f, b))
end
"#;

/// What wrk printed, read.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct WrkReport {
    pub(crate) requests: u64,
    pub(crate) secs: f64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) non_2xx: u64,
    pub(crate) socket_errors: u64,
    flows: Option<u64>,
    flow_errors: u64,
    /// wrk's own user + system CPU seconds (the shell's `times`, its children).
    pub(crate) cpu_secs: Option<f64>,
}

/// `312.45us`, `1.20ms`, `2.00s` in microseconds.
fn duration_us(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix("m") {
        (n, 60e6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}

/// `0m1.234000s` in seconds.
fn times_secs(v: &str) -> Option<f64> {
    let (m, s) = v.strip_suffix('s')?.split_once('m')?;
    Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
}

fn parse(out: &str) -> Result<WrkReport, String> {
    let mut r = WrkReport::default();
    let mut times_lines = Vec::new();
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => r.p50_us = duration_us(v).unwrap_or(0.0) as u64,
            ["99%", v] => r.p99_us = duration_us(v).unwrap_or(0.0) as u64,
            [n, "requests", "in", d, ..] => {
                r.requests = n.parse().unwrap_or(0);
                r.secs = duration_us(d.trim_end_matches(',')).unwrap_or(0.0) / 1e6;
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => r.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                r.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["harness-flows:", n] => r.flows = n.parse().ok(),
            ["harness-bad:", n] => r.flow_errors = n.parse().unwrap_or(0),
            [a, b] if a.ends_with('s') && a.contains('m') && b.ends_with('s') => {
                times_lines.push((times_secs(a), times_secs(b)));
            }
            _ => {}
        }
    }
    // `times` prints the shell's own times, then its children's (wrk's).
    if let Some((Some(u), Some(s))) = times_lines.get(1) {
        r.cpu_secs = Some(u + s);
    }
    if r.requests == 0 || r.secs <= 0.0 {
        return Err(format!("wrk reported no requests:\n{out}"));
    }
    Ok(r)
}

/// One wrk run of `script` against `t` for `secs`, with `o`'s threads and connections.
pub(crate) fn wrk(
    t: &Target,
    path: &str,
    script: &Path,
    secs: f64,
    o: &Options,
) -> Result<WrkReport, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg("wrk \"$@\"; status=$?; times; exit $status")
        .arg("sh")
        .arg(format!("-t{}", o.wrk_threads))
        .arg(format!("-c{}", o.connections))
        .arg(format!("-d{}s", secs.ceil().max(1.0) as u64))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(format!("{}{path}", t.base))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse(&text)
}

/// Runs one scenario against one target with wrk: a warm-up, then the measured run.
pub(crate) fn run(
    t: &Target,
    s: Scenario,
    o: &Options,
    inputs: &Inputs<'_>,
    work: &Path,
) -> Result<ScenarioResult, String> {
    let (lua, path) = script(s, inputs);
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let file = work.join(format!("{}.lua", s.key()));
    std::fs::write(&file, lua).map_err(|e| e.to_string())?;
    if o.warmup > 0.0 {
        wrk(t, path, &file, o.warmup, o)?;
    }
    let tck = load::clock_ticks_per_sec();
    let cpu0 = load::cpu_ticks(t.pid());
    let r = wrk(t, path, &file, o.secs, o)?;
    let cpu1 = load::cpu_ticks(t.pid());
    let server_cpu_secs = cpu1.saturating_sub(cpu0) as f64 / tck;
    let (count, errors) = match r.flows {
        Some(flows) => (flows, r.flow_errors + r.socket_errors),
        None => (
            r.requests.saturating_sub(r.non_2xx),
            r.non_2xx + r.socket_errors,
        ),
    };
    Ok(ScenarioResult {
        rps: count as f64 / r.secs,
        p50_us: r.p50_us,
        p99_us: r.p99_us,
        errors,
        cpu_us_per_req: if count == 0 {
            0.0
        } else {
            server_cpu_secs * 1e6 / count as f64
        },
        requests: count,
        server_cpu_share: Some(server_cpu_secs / r.secs),
        loadgen_cpu_share: r.cpu_secs.map(|c| c / r.secs),
        ratio_to_ceiling: None,
        p99_to_ceiling: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "Running 10s test @ http://127.0.0.1:4000/token
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   420.11us  150.00us   9.87ms   91.00%
    Req/Sec    76.10k     3.20k   80.00k    70.00%
  Latency Distribution
     50%  398.00us
     75%  450.00us
     90%  520.00us
     99%    1.12ms
  761234 requests in 10.00s, 250.00MB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:  76123.40
Transfer/sec:     25.00MB
harness-flows: 100
harness-bad: 3
0m0.001000s 0m0.002000s
0m2.500000s 0m4.250000s
";

    #[test]
    fn wrk_report_is_read() {
        let r = parse(OUT).unwrap();
        assert_eq!(
            r,
            WrkReport {
                requests: 761_234,
                secs: 10.0,
                p50_us: 398,
                p99_us: 1120,
                non_2xx: 12,
                socket_errors: 3,
                flows: Some(100),
                flow_errors: 3,
                cpu_secs: Some(6.75),
            }
        );
        assert!(parse("Running 1s test\n").is_err());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_str(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(lua_str("a\r\nb"), r#""a\013\010b""#);
    }
}
