//! `bench_report`: eventsig against its peers in about a minute, as one table.
//!
//! The same workloads as the criterion benches (`benches/common/mod.rs`,
//! shared by both), timed with `Instant` instead of criterion: each group of
//! contenders runs for several rounds, the contenders taking turns within a
//! round (the order rotates from round to round), threads pinned to CPUs 0
//! and 1. A figure is the median over the rounds; a ratio is the median of
//! the per-round ratios (eventsig and its peer measured in the same round).
//!
//! ```text
//! cargo run --release --example bench_report             # about a minute
//! cargo run --release --example bench_report -- --quick  # a few seconds (CI smoke run)
//! cargo run --release --example bench_report -- --json   # the table, then the rows as JSON
//! cargo run --release --example bench_report -- --help
//! ```
//!
//! The fence row runs the single-item SPSC case in child processes of this
//! program, alternately with and without `EVENTSIG_NO_MEMBARRIER=1`: eventsig
//! chooses its barrier once per process, so the two modes cannot share one.

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)] // shared with the other includer; each uses a part
mod common;

use std::fmt::Write as _;
use std::process::{self, Command};
use std::time::{Duration, Instant};

use common::*;

const USAGE: &str = "\
usage: cargo run --release --example bench_report -- [OPTIONS]

Runs eventsig's comparisons against its peers (raise, SPSC throughput, ping-pong
wake-up latency, epoll flood) and prints one table: case, eventsig's median,
the peer's median, the median ratio, the target from DESIGN.md, and whether it
is met.

  --quick        small counts and 3 rounds: a few seconds, for a CI smoke run
  --rounds N     rounds per group (default 7, or 3 with --quick)
  --json         also print the rows as one JSON document after the table
  --only GROUPS  run only these groups, comma-separated: raise, spsc, fence,
                 ping-pong, flood, park, oldest
  -h, --help     this text
";

/// Child mode: run the single-item SPSC case once and print its time.
const CHILD_FLAG: &str = "--child-spsc-single";

// ----------------------------------------------------------------- options

struct Options {
    quick: bool,
    rounds: usize,
    json: bool,
    /// Run only these groups.
    only: Option<Vec<String>>,
}

const GROUPS: [&str; 7] = [
    "raise",
    "spsc",
    "fence",
    "ping-pong",
    "flood",
    "park",
    "oldest",
];

fn parse_options() -> Result<Option<Options>, String> {
    let mut quick = false;
    let mut rounds = None;
    let mut json = false;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "--rounds" => {
                let v = args.next().ok_or("--rounds needs a number")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--rounds: not a number: {v}"))?;
                if n == 0 {
                    return Err("--rounds must be at least 1".into());
                }
                rounds = Some(n);
            }
            "--only" => {
                let v = args.next().ok_or("--only needs a list of groups")?;
                let groups: Vec<String> = v.split(',').map(str::to_string).collect();
                if let Some(bad) = groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                    return Err(format!("--only: no group {bad}"));
                }
                only = Some(groups);
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Some(Options {
        quick,
        rounds: rounds.unwrap_or(if quick { 3 } else { 7 }),
        json,
        only,
    }))
}

/// Operation counts per run of one contender.
struct Sizes {
    /// Single-thread atomic loops.
    atomic_ops: u64,
    /// Single-thread syscall loops.
    syscall_ops: u64,
    /// SPSC items for the lock-free rings.
    spsc_items: u64,
    /// SPSC items for the MPMC queue and the channels (crossbeam, std), an
    /// order slower.
    channel_items: u64,
    /// Ping-pong round trips.
    round_trips: u64,
    /// Flood events through eventsig.
    flood_items: u64,
    /// Flood events through the naive design, an order slower.
    naive_items: u64,
    /// Empty drains.
    drains: u64,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                atomic_ops: 2_000_000,
                syscall_ops: 20_000,
                spsc_items: 1_000_000,
                channel_items: 200_000,
                round_trips: 500,
                flood_items: 100_000,
                naive_items: 10_000,
                drains: 5_000,
            }
        } else {
            Sizes {
                atomic_ops: 20_000_000,
                syscall_ops: 200_000,
                spsc_items: 20_000_000,
                channel_items: 2_000_000,
                round_trips: 10_000,
                flood_items: 1_000_000,
                naive_items: 100_000,
                drains: 50_000,
            }
        }
    }
}

// ------------------------------------------------------------- measuring

/// One run of a contender: nanoseconds per operation, and a count that the
/// run observed (eventfd writes), if any.
#[derive(Clone, Copy)]
struct Sample {
    ns_per_op: f64,
    /// eventfd writes (per event for the floods).
    count: Option<f64>,
    /// The flood runs: the whole outcome.
    flood: Option<Flood>,
    /// How much of the run other tasks took.
    stolen: Stolen,
}

fn per_op(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

fn timed(d: Duration, n: u64) -> Sample {
    Sample {
        ns_per_op: per_op(d, n),
        count: None,
        flood: None,
        stolen: Stolen::default(),
    }
}

struct Contender {
    key: &'static str,
    n: u64,
    run: Box<dyn Fn(u64) -> Sample>,
}

fn contender(key: &'static str, n: u64, run: impl Fn(u64) -> Sample + 'static) -> Contender {
    Contender {
        key,
        n,
        run: Box::new(run),
    }
}

/// A contender whose run returns its time only.
fn timed_contender(
    key: &'static str,
    n: u64,
    run: impl Fn(u64) -> Duration + 'static,
) -> Contender {
    contender(key, n, move |n| timed(run(n), n))
}

/// The samples of one group: `samples[c][round]`.
struct Group {
    keys: Vec<&'static str>,
    samples: Vec<Vec<Sample>>,
}

impl Group {
    fn index(&self, key: &str) -> usize {
        self.keys
            .iter()
            .position(|k| *k == key)
            .unwrap_or_else(|| panic!("no contender {key}"))
    }

    fn ns(&self, key: &str) -> Vec<f64> {
        self.samples[self.index(key)]
            .iter()
            .map(|s| s.ns_per_op)
            .collect()
    }

    fn counts(&self, key: &str) -> Vec<f64> {
        self.samples[self.index(key)]
            .iter()
            .map(|s| s.count.expect("a counting contender"))
            .collect()
    }

    fn floods(&self, key: &str) -> Vec<Flood> {
        self.samples[self.index(key)]
            .iter()
            .map(|s| s.flood.expect("a flood contender"))
            .collect()
    }
}

/// Runs of a contender that other tasks disturbed ([`Stolen::disturbed`])
/// are repeated, up to this many runs in all; the least disturbed is kept.
const TRIES: u32 = 3;

/// Runs every contender once per round, rotating the order each round. A
/// run that other tasks disturbed is repeated (up to [`TRIES`] runs); how
/// often that happened goes into `notes`.
fn run_group(
    name: &str,
    rounds: usize,
    contenders: Vec<Contender>,
    notes: &mut Vec<String>,
) -> Group {
    let started = Instant::now();
    eprint!("{name:<10}");
    let k = contenders.len();
    let mut samples = vec![Vec::with_capacity(rounds); k];
    let (mut repeated, mut kept_disturbed) = (0, 0);
    let mut shares = Vec::new();
    let run = |c: &Contender| {
        let (mut s, stolen) = stolen_during(|| (c.run)(c.n));
        // A child process measures its own threads.
        s.stolen.waited_ns += stolen.waited_ns;
        s.stolen.wall_ns = s.stolen.wall_ns.max(stolen.wall_ns);
        s
    };
    for round in 0..rounds {
        for i in 0..k {
            let c = &contenders[(i + round) % k];
            let mut best = run(c);
            let mut runs = 1;
            while best.stolen.disturbed() && runs < TRIES {
                let s = run(c);
                runs += 1;
                if s.stolen.share() < best.stolen.share() {
                    best = s;
                }
            }
            repeated += runs - 1;
            kept_disturbed += u32::from(best.stolen.disturbed());
            shares.push(best.stolen.share());
            samples[(i + round) % k].push(best);
        }
        eprint!(".");
    }
    eprintln!(" {:.1} s", started.elapsed().as_secs_f64());
    notes.push(format!(
        "{name}: other tasks took a median {:.1}% of a run (run-queue wait); \
         {repeated} runs repeated for taking more than 5%; \
         {kept_disturbed} of {} figures kept although above 5% after {TRIES} runs",
        median(shares) * 100.0,
        k * rounds
    ));
    Group {
        keys: contenders.iter().map(|c| c.key).collect(),
        samples,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------- the table

#[derive(Clone, Copy)]
enum Unit {
    /// Nanoseconds per operation; lower is better.
    Ns,
    /// Microseconds per round trip; lower is better.
    Us,
    /// Million items per second; higher is better.
    Mps,
    /// A count per event; lower is better.
    PerEvent,
    /// A plain count.
    Count,
}

impl Unit {
    fn show(self, ns_or_count: f64) -> String {
        match self {
            Unit::Ns => format!("{ns_or_count:.2} ns"),
            Unit::Us => format!("{:.2} µs", ns_or_count / 1e3),
            Unit::Mps => format!("{:.1} M/s", 1e3 / ns_or_count),
            Unit::PerEvent => format!("{ns_or_count:.4}/event"),
            Unit::Count => format!("{ns_or_count:.0}"),
        }
    }
}

#[derive(Clone, Copy)]
enum Target {
    /// The ratio must be at most this.
    AtMost(f64),
    /// The ratio must be at least this.
    AtLeast(f64),
    /// eventsig's own figure must be at most this (counts).
    ValueAtMost(f64),
    /// For information.
    None,
}

impl Target {
    fn show(self) -> String {
        match self {
            Target::AtMost(x) => format!("≤ {x}x"),
            Target::AtLeast(x) => format!("≥ {x}x"),
            Target::ValueAtMost(x) => format!("≤ {x}"),
            Target::None => "—".into(),
        }
    }

    fn met(self, value: f64, ratio: Option<f64>) -> Option<bool> {
        match (self, ratio) {
            (Target::AtMost(x), Some(r)) => Some(r <= x),
            (Target::AtLeast(x), Some(r)) => Some(r >= x),
            (Target::ValueAtMost(x), _) => Some(value <= x),
            _ => None,
        }
    }
}

struct Row {
    case: String,
    eventsig: String,
    peer: String,
    ratio: Option<f64>,
    target: Target,
    met: Option<bool>,
    // Raw figures for --json.
    unit: &'static str,
    eventsig_value: f64,
    peer_value: Option<f64>,
}

/// A timed comparison: eventsig's contender against a peer's, both from `g`.
/// The ratio is eventsig ÷ peer of the shown figure (a time, or a rate for
/// `Unit::Mps`), the median of the per-round ratios.
fn compare(g: &Group, case: &str, unit: Unit, (es, peer): (&str, &str), target: Target) -> Row {
    let (a, b) = (g.ns(es), g.ns(peer));
    let per_round: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| match unit {
            Unit::Mps => y / x,
            _ => x / y,
        })
        .collect();
    let ratio = median(per_round);
    let (ma, mb) = (median(a), median(b));
    let (value, unit_name) = match unit {
        Unit::Mps => (1e3 / ma, "Mitems/s"),
        Unit::Us => (ma / 1e3, "us"),
        _ => (ma, "ns"),
    };
    Row {
        case: case.into(),
        eventsig: unit.show(ma),
        peer: unit.show(mb),
        ratio: Some(ratio),
        target,
        met: target.met(value, Some(ratio)),
        unit: unit_name,
        eventsig_value: value,
        peer_value: Some(match unit {
            Unit::Mps => 1e3 / mb,
            Unit::Us => mb / 1e3,
            _ => mb,
        }),
    }
}

/// What a row of the table shows, from its group's samples.
#[derive(Clone, Copy)]
enum Figure {
    /// eventsig's contender against the peer's, timed ([`compare`]).
    Timed(&'static str, &'static str),
    /// The median count of a contender (eventfd writes per event) against a
    /// peer's known figure, if any.
    Counts(&'static str, Option<f64>),
    /// The median over a flood contender's runs of the eventfd writes made
    /// while the consumer was awake.
    AwakeWrites(&'static str),
    /// The counts of these contenders, summed over all their runs.
    CountsSum(&'static [&'static str]),
}

use Figure::{AwakeWrites, Counts, CountsSum, Timed};

/// A row of the table: the group that measures it, the case, the unit, the
/// figure, the target.
type RowSpec = (&'static str, &'static str, Unit, Figure, Target);

/// Every row of the table, in the order shown, one a line.
#[rustfmt::skip]
const ROWS: &[RowSpec] = &[
    ("raise", "raise, awake receiver vs AtomicU64::fetch_or", Unit::Ns, Timed("es_raise", "fetch_or"), Target::AtMost(1.5)),
    ("raise", "raise, awake receiver vs EventFd::notify", Unit::Ns, Timed("es_raise", "eventfd"), Target::None),
    ("raise", "raise, awake receiver vs mio::Waker::wake", Unit::Ns, Timed("es_raise", "mio_wake"), Target::None),
    ("raise", "take+raise vs swap+fetch_or", Unit::Ns, Timed("es_take_raise", "swap_fetch_or"), Target::AtMost(1.5)),
    ("spsc", "SPSC single: send/try_recv vs rtrb push/pop", Unit::Mps, Timed("es_single", "rtrb"), Target::AtLeast(1.0)),
    ("spsc", "SPSC single vs crossbeam ArrayQueue", Unit::Mps, Timed("es_single", "array_queue"), Target::None),
    ("spsc", "SPSC single vs crossbeam-channel bounded(1024)", Unit::Mps, Timed("es_single", "crossbeam"), Target::AtLeast(5.0)),
    ("spsc", "SPSC single vs std sync_channel(1024)", Unit::Mps, Timed("es_single", "sync_channel"), Target::None),
    ("spsc", "SPSC batch: send_iter/drain runs vs rtrb chunks", Unit::Mps, Timed("es_batch", "rtrb_chunk"), Target::AtLeast(1.0)),
    ("spsc", "SPSC batch vs ringbuf push_iter/as_slices+skip", Unit::Mps, Timed("es_batch", "ringbuf"), Target::None),
    ("spsc", "SPSC batch vs crossbeam-channel bounded(1024)", Unit::Mps, Timed("es_batch", "crossbeam"), Target::AtLeast(5.0)),
    ("spsc", "eventfd writes while the receiver is awake (SPSC busy-poll, all runs)", Unit::Count, CountsSum(&["es_single", "es_batch"]), Target::ValueAtMost(0.0)),
    ("fence", "SPSC single: asymmetric barrier vs fence(SeqCst) (EVENTSIG_NO_MEMBARRIER=1)", Unit::Mps, Timed("asym", "fence"), Target::None),
    ("ping-pong", "ping-pong: wait vs crossbeam bounded(1) recv", Unit::Us, Timed("es_wait", "crossbeam"), Target::AtMost(1.2)),
    ("ping-pong", "ping-pong: mio Poll + drain vs raw eventfd+epoll", Unit::Us, Timed("es_mio", "raw_epoll"), Target::AtMost(1.1)),
    ("ping-pong", "ping-pong: plain fd in raw epoll + drain vs raw eventfd+epoll", Unit::Us, Timed("es_epoll", "raw_epoll"), Target::AtMost(1.1)),
    ("flood", "flood into mio consumer (drain), lossless: eventfd writes per event vs write-per-event", Unit::PerEvent, Counts("es_drain", Some(1.0)), Target::ValueAtMost(0.01)),
    ("flood", "flood into mio consumer (drain), drops allowed: eventfd writes per attempt", Unit::PerEvent, Counts("es_lossy", Some(1.0)), Target::ValueAtMost(0.01)),
    ("flood", "flood (drain): eventfd writes while the consumer was awake (writes - epoll sleeps)", Unit::Count, AwakeWrites("es_drain"), Target::ValueAtMost(0.0)),
    ("flood", "flood (try_recv until Empty): eventfd writes while the consumer was awake", Unit::Count, AwakeWrites("es_try_recv"), Target::None),
    ("flood", "flood, lossless: time per event, drain consumer vs naive write-per-event", Unit::Ns, Timed("es_drain", "naive"), Target::None),
    ("flood", "flood, lossless: time per event, drain vs try_recv consumer", Unit::Ns, Timed("es_drain", "es_try_recv"), Target::None),
    ("park", "empty drain, fd handed out (parks) vs fd never handed out", Unit::Ns, Timed("exposed", "private"), Target::None),
    ("oldest", "drop-oldest: SPSC single, lossless, vs drop-newest", Unit::Mps, Timed("oldest_single", "newest_single"), Target::None),
    ("oldest", "drop-oldest: SPSC single, lossless, vs rtrb push/pop", Unit::Mps, Timed("oldest_single", "rtrb"), Target::None),
    ("oldest", "drop-oldest: flood (overflowing) vs drop-newest, attempts", Unit::Mps, Timed("oldest_flood", "newest_flood"), Target::None),
    ("oldest", "drop-oldest: push into a full ring (evicts) vs refused push", Unit::Ns, Timed("evicting", "refused"), Target::None),
];

/// The row `spec` from its group's samples `g`.
fn row(g: &Group, &(_, case, unit, figure, target): &RowSpec) -> Row {
    let counts = match figure {
        Timed(es, peer) => return compare(g, case, unit, (es, peer), target),
        Counts(key, peer) => return compare_counts(case, unit, g.counts(key), peer, target),
        AwakeWrites(key) => g
            .floods(key)
            .iter()
            .map(|f| f.writes_while_awake() as f64)
            .collect(),
        CountsSum(keys) => vec![keys.iter().flat_map(|k| g.counts(k)).sum()],
    };
    compare_counts(case, unit, counts, None, target)
}

/// The table being made: its rows and notes.
struct Report<'o> {
    opts: &'o Options,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report<'_> {
    /// Runs the group `name` if it was asked for (`--only`) and adds its
    /// rows of [`ROWS`]; returns its samples, for notes of its own.
    fn run(&mut self, name: &str, contenders: Vec<Contender>) -> Option<Group> {
        let only = self.opts.only.as_ref();
        if !only.map_or(true, |o| o.iter().any(|g| g == name)) {
            return None;
        }
        let g = run_group(name, self.opts.rounds, contenders, &mut self.notes);
        let specs = ROWS.iter().filter(|spec| spec.0 == name);
        self.rows.extend(specs.map(|spec| row(&g, spec)));
        Some(g)
    }
}

/// A count comparison (eventfd writes): medians of counts, no time.
fn compare_counts(case: &str, unit: Unit, es: Vec<f64>, peer: Option<f64>, target: Target) -> Row {
    let value = median(es);
    let ratio = peer.map(|p| value / p);
    Row {
        case: case.into(),
        eventsig: unit.show(value),
        peer: peer.map_or("—".into(), |p| unit.show(p)),
        ratio,
        target,
        met: target.met(value, ratio),
        unit: "count",
        eventsig_value: value,
        peer_value: peer,
    }
}

fn print_table(rows: &[Row]) {
    let header = ["case", "eventsig", "peer", "ratio", "target", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.case.clone(),
                r.eventsig.clone(),
                r.peer.clone(),
                r.ratio.map_or("—".into(), |x| {
                    if x < 0.01 {
                        format!("{x:.4}x")
                    } else {
                        format!("{x:.2}x")
                    }
                }),
                r.target.show(),
                match r.met {
                    Some(true) => "met".into(),
                    Some(false) => "NOT met".into(),
                    None => "info".into(),
                },
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::from("|");
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            // Figures right-aligned, text left-aligned.
            if (1..=3).contains(&i) {
                let _ = write!(s, " {}{} |", " ".repeat(pad), c);
            } else {
                let _ = write!(s, " {}{} |", c, " ".repeat(pad));
            }
        }
        s
    };
    println!("{}", line(&header.map(String::from)));
    let rule: Vec<String> = width
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if (1..=3).contains(&i) {
                format!("{}:", "-".repeat(w - 1))
            } else {
                "-".repeat(*w)
            }
        })
        .collect();
    println!("{}", line(&rule));
    for row in &cells {
        println!("{}", line(row));
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

fn print_json(rows: &[Row], opts: &Options) {
    println!("{{");
    println!("  \"rounds\": {},", opts.rounds);
    println!("  \"quick\": {},", opts.quick);
    println!("  \"rows\": [");
    for (i, r) in rows.iter().enumerate() {
        let met = r.met.map_or("null".to_string(), |m| m.to_string());
        println!(
            "    {{\"case\": {}, \"unit\": {}, \"eventsig\": {}, \"peer\": {}, \"ratio\": {}, \"target\": {}, \"met\": {}}}{}",
            json_str(&r.case),
            json_str(r.unit),
            json_num(Some(r.eventsig_value)),
            json_num(r.peer_value),
            json_num(r.ratio),
            json_str(&r.target.show()),
            met,
            if i + 1 == rows.len() { "" } else { "," }
        );
    }
    println!("  ]");
    println!("}}");
}

// ----------------------------------------------------------- the machine

fn membarrier_available() -> bool {
    // membarrier(MEMBARRIER_CMD_QUERY): a bit mask of the supported
    // commands; bit 3 is MEMBARRIER_CMD_PRIVATE_EXPEDITED.
    // SAFETY: the query takes two integers and no pointer; the result is
    // checked.
    let mask = unsafe { libc::syscall(libc::SYS_membarrier, 0 as libc::c_long, 0 as libc::c_long) };
    mask >= 0 && mask & (1 << 3) != 0
}

/// The 1-minute load average: the figures mean little when other work
/// competes for the two CPUs.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn barrier_mode() -> &'static str {
    let forced = std::env::var_os("EVENTSIG_NO_MEMBARRIER").is_some_and(|v| v == "1");
    if forced {
        "fence(SeqCst) on every send (EVENTSIG_NO_MEMBARRIER=1)"
    } else if membarrier_available() {
        "asymmetric (compiler fence on send, membarrier(2) on park)"
    } else {
        "fence(SeqCst) on every send (membarrier unavailable)"
    }
}

// ----------------------------------------------------------- child process

/// Runs the single-item SPSC case in a child process of this program, with
/// or without `EVENTSIG_NO_MEMBARRIER=1`.
fn spsc_single_in_child(n: u64, fence: bool) -> Sample {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_FLAG).arg(n.to_string());
    if fence {
        cmd.env("EVENTSIG_NO_MEMBARRIER", "1");
    } else {
        cmd.env_remove("EVENTSIG_NO_MEMBARRIER");
    }
    let out = cmd.output().expect("spawn the child run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child run failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<u64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let &[nanos, waited_ns, wall_ns] = fields.as_slice() else {
        panic!("child printed {text:?}");
    };
    Sample {
        ns_per_op: nanos as f64 / n as f64,
        count: None,
        flood: None,
        stolen: Stolen { waited_ns, wall_ns },
    }
}

fn child_main(n: &str) {
    let n: u64 = n.parse().expect("item count");
    let ((d, stats), stolen) = stolen_during(|| spsc_eventsig_single(n));
    assert_eq!(
        stats.doorbell_writes, 0,
        "a busy-polled receiver never parks"
    );
    // Read by `spsc_single_in_child`: nanoseconds, run-queue wait, wall.
    println!("{} {} {}", d.as_nanos(), stolen.waited_ns, stolen.wall_ns);
}

// -------------------------------------------------------------------- main

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == CHILD_FLAG {
        child_main(&args[2]);
        return;
    }
    let opts = match parse_options() {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("bench_report: {e}\n\n{USAGE}");
            process::exit(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("bench_report: built without --release; the figures mean little");
    }
    let z = Sizes::new(opts.quick);
    let rounds = opts.rounds;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Single-thread loops run here, on CPU 1 (the timed side of the
    // two-thread cases).
    let pinned = pin_to_cpu(1);
    let load_before = load_average();
    eprintln!(
        "bench_report: {rounds} rounds per group, {cpus} CPUs{}, load average {load_before}, barrier: {}",
        if pinned {
            ", threads pinned to CPUs 0 and 1"
        } else {
            ", unpinned"
        },
        barrier_mode()
    );
    let started = Instant::now();
    let mut report = Report {
        opts: &opts,
        rows: Vec::new(),
        notes: Vec::new(),
    };

    report.run(
        "raise",
        vec![
            timed_contender("es_raise", z.atomic_ops, raise_eventsig),
            timed_contender("fetch_or", z.atomic_ops, raise_fetch_or),
            timed_contender("es_take_raise", z.atomic_ops, take_raise_eventsig),
            timed_contender("swap_fetch_or", z.atomic_ops, take_raise_atomic),
            timed_contender("eventfd", z.syscall_ops, raise_eventfd_notify),
            timed_contender("mio_wake", z.syscall_ops, raise_mio_wake),
        ],
    );

    let eventsig_run = |(d, s): EventsigRun, n: u64| Sample {
        ns_per_op: per_op(d, n),
        count: Some(s.doorbell_writes as f64),
        flood: None,
        stolen: Stolen::default(),
    };
    report.run(
        "spsc",
        vec![
            contender("es_single", z.spsc_items, move |n| {
                eventsig_run(spsc_eventsig_single(n), n)
            }),
            timed_contender("rtrb", z.spsc_items, spsc_rtrb_single),
            timed_contender("array_queue", z.channel_items, spsc_array_queue),
            timed_contender("crossbeam", z.channel_items, spsc_crossbeam),
            timed_contender("sync_channel", z.channel_items, spsc_std_sync_channel),
            contender("es_batch", z.spsc_items, move |n| {
                eventsig_run(spsc_eventsig_batch(n), n)
            }),
            timed_contender("rtrb_chunk", z.spsc_items, spsc_rtrb_chunk),
            timed_contender("ringbuf", z.spsc_items, spsc_ringbuf_batch),
        ],
    );

    report.run(
        "fence",
        vec![
            contender("asym", z.spsc_items, |n| spsc_single_in_child(n, false)),
            contender("fence", z.spsc_items, |n| spsc_single_in_child(n, true)),
        ],
    );

    report.run(
        "ping-pong",
        vec![
            timed_contender("es_wait", z.round_trips, ping_pong_eventsig_wait),
            timed_contender("crossbeam", z.round_trips, ping_pong_crossbeam),
            timed_contender("es_mio", z.round_trips, ping_pong_eventsig_mio),
            timed_contender("es_epoll", z.round_trips, ping_pong_eventsig_epoll),
            timed_contender("raw_epoll", z.round_trips, ping_pong_raw_epoll),
        ],
    );

    let flood_sample = |f: Flood| Sample {
        ns_per_op: per_op(f.elapsed, f.sent),
        count: Some(f.writes_per_event()),
        flood: Some(f),
        stolen: Stolen::default(),
    };
    let flood = report.run(
        "flood",
        vec![
            contender("es_drain", z.flood_items, move |n| {
                flood_sample(flood_eventsig(n, true, Consume::Drain))
            }),
            contender("es_lossy", z.flood_items, move |n| {
                flood_sample(flood_eventsig(n, false, Consume::Drain))
            }),
            contender("es_try_recv", z.flood_items, move |n| {
                flood_sample(flood_eventsig(n, true, Consume::TryRecv))
            }),
            contender("naive", z.naive_items, move |n| {
                flood_sample(flood_naive(n))
            }),
        ],
    );
    if let Some(g) = flood {
        for key in ["es_drain", "es_lossy", "es_try_recv"] {
            let runs = g.floods(key);
            let m = |f: fn(&Flood) -> u64| median(runs.iter().map(|r| f(r) as f64).collect());
            report.notes.push(format!(
                "flood {key} (medians per run): {:.0} attempts, {:.0} delivered, {:.0} dropped, \
                 {:.0} eventfd writes, {:.0} parks, {:.0} epoll sleeps",
                m(|f| f.sent),
                m(|f| f.delivered),
                m(|f| f.dropped),
                m(|f| f.writes),
                m(|f| f.parks),
                m(|f| f.sleeps),
            ));
        }
    }

    report.run(
        "park",
        vec![
            timed_contender("exposed", z.drains, |n| empty_drain(n, true)),
            timed_contender("private", z.drains, |n| empty_drain(n, false)),
        ],
    );

    use eventsig::OverflowPolicy::{DropNewest, DropOldest};
    let lost_share = |(d, s): EventsigRun, n: u64| Sample {
        ns_per_op: per_op(d, n),
        count: Some(s.dropped as f64 / n as f64),
        flood: None,
        stolen: Stolen::default(),
    };
    let oldest = report.run(
        "oldest",
        vec![
            contender("newest_single", z.spsc_items, move |n| {
                lost_share(oldest_single(n, DropNewest), n)
            }),
            contender("oldest_single", z.spsc_items, move |n| {
                lost_share(oldest_single(n, DropOldest), n)
            }),
            timed_contender("rtrb", z.spsc_items, spsc_rtrb_single),
            contender("newest_flood", z.spsc_items, move |n| {
                lost_share(oldest_flood(n, DropNewest), n)
            }),
            contender("oldest_flood", z.spsc_items, move |n| {
                lost_share(oldest_flood(n, DropOldest), n)
            }),
            timed_contender("refused", z.atomic_ops, oldest_full_push_refused),
            timed_contender("evicting", z.atomic_ops, oldest_full_push_evicting),
        ],
    );
    if let Some(g) = oldest {
        let m = |k: &str| median(g.counts(k));
        report.notes.push(format!(
            "oldest: share of attempts lost in the floods (medians): drop-newest {:.3}, \
             drop-oldest {:.3}",
            m("newest_flood"),
            m("oldest_flood")
        ));
    }
    let Report { rows, notes, .. } = report;

    println!();
    println!(
        "eventsig bench_report: {rounds} rounds per group; figures are medians; \
         ratio = eventsig ÷ peer (of rates for M/s rows), the median of per-round ratios"
    );
    println!();
    print_table(&rows);
    println!();
    for n in &notes {
        println!("{n}");
    }
    let not_met = rows.iter().filter(|r| r.met == Some(false)).count();
    let met = rows.iter().filter(|r| r.met == Some(true)).count();
    println!(
        "targets: {met} met, {not_met} not met; total time {:.0} s; load average before {load_before}, after {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    if opts.json {
        println!();
        print_json(&rows, &opts);
    }
}
