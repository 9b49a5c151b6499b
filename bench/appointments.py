"""Booking files (issue 18): what importing 100,000 bookings costs, CSV and XLSX, on SQLite (and
PostgreSQL when one is given), and the two reads of the imported day.

    python bench/appointments.py                      # 100,000 rows, SQLite; writes bench/results/appointments.json
    python bench/appointments.py --postgres           # and on a throwaway PostgreSQL cluster (apt's postgresql)
    DATABASE_URL=postgresql+psycopg://u@127.0.0.1:5432/ python bench/appointments.py   # or on a running one
    python bench/appointments.py --rows 20000 --no-write          # a quick look, nothing written
    python bench/appointments.py --against /tmp/siteflow-before   # the same measures with another checkout's app/
    python bench/appointments.py --profile            # py-spy over one CSV import: where the time goes

The files are made once per run (valid resident ID numbers, 18 half-hour slots 08:00-17:00 with
a morning peak, 300 groups, 3 % without a phone), for the day after the bench's fixed clock.
Each measure runs in a child process of its own on a fresh database, so its peak RSS is its own:
(a) validation only: the same rows with one bad row at the end, refused whole (nothing written);
(b) the full import; (c) rows/s of each, and peak RSS; then, after the CSV import, the day's
summary (`GET .../appointments/summary`) and pages of the list (`GET .../appointments`) through
the Flask test client, as a supervisor. Numbers are reported, never asserted.

With --against, every measure runs with this checkout's app/ and with the other one's, interleaved
(A B, then B A, ...), `--repeats` times each: the way to measure an optimisation before and after.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 25)  # the bookings' day: the day after the clock's
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai (the demo site's zone)
COLUMNS = ("slot_start", "name", "document_type", "document_number", "phone", "dose_number", "group")
SLOTS = [f"{8 + i // 2:02d}:{30 * (i % 2):02d}" for i in range(18)]  # 08:00 ... 16:30
# A morning peak: the 09:00-11:00 slots twice as full as the afternoon's.
SLOT_WEIGHTS = [3, 4, 6, 6, 6, 6, 4, 3, 2, 3, 3, 3, 3, 3, 3, 3, 2, 2]
GROUPS = 300
NO_PHONE = 0.03


# ---------------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------------

def booking_rows(count: int, seed: int = 18) -> list[list[str]]:
    """`count` good rows: distinct people (valid resident IDs), slots with a morning peak."""
    from app.sim.people import GIVEN, SURNAMES
    from tests.support.factories import gen_resident_id

    rng = random.Random(seed)
    groups = [f"{rng.choice(('社区', '单位', '村', '学校'))}{n:03d}" for n in range(1, GROUPS + 1)]
    rows = []
    for _ in range(count):
        slot = rng.choices(SLOTS, weights=SLOT_WEIGHTS)[0]
        phone = "" if rng.random() < NO_PHONE else "1" + rng.choice("3578") + f"{rng.randrange(10**9):09d}"
        rows.append([f"{DAY.isoformat()}T{slot}", rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
                     "resident_id", gen_resident_id(), phone, str(rng.choice((1, 2, 3))), rng.choice(groups)])
    return rows


def bad_last(rows: list[list[str]]) -> list[list[str]]:
    """The same rows, the last one with a wrong check character: the file is refused whole."""
    last = list(rows[-1])
    number = last[3]
    last[3] = number[:-1] + ("1" if number[-1] != "1" else "2")
    return [*rows[:-1], last]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("bookings")
    sheet.append(list(COLUMNS))
    for row in rows:  # as a person's spreadsheet has them: the slot as text, the dose as a number
        sheet.append([*row[:5], int(row[5]), row[6]])
    book.save(path)


# ---------------------------------------------------------------------------------------------
# One measure, in a child process (python bench/appointments.py child ...)
# ---------------------------------------------------------------------------------------------

def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(database_url: str, path: Path, expect: str, api: bool) -> dict:
    from app import create_app
    from app.clock import FixedClock
    from app.domain.appointments import BookingFileInvalid
    from app.domain.permissions import Principal
    from app.flow import appointments as flow
    from app.flow import booking_files
    from app.flow import sites as site_flow
    from app.flow import tokens as token_flow
    from app.store.migrate import upgrade
    from app.store.sealing import generate_lookup_key, generate_master_key

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench", "CLOCK": FixedClock(NOW),
                      "DATA_KEYS": generate_master_key(), "LOOKUP_KEY": generate_lookup_key()})
    services = app.extensions["siteflow"]
    upgrade(services.store.engine)
    site_flow.load_site_file(services, ROOT / "sites" / "demo.toml")
    admin = Principal(name="bench", role="admin")
    answer: dict = {"rss_before_mb": round(_rss_mb(), 1)}
    began = time.perf_counter()
    content = path.read_bytes()
    try:
        result = flow.import_rows(services, admin, site_id="demo", rows=booking_files.rows_of(content), content=content)
        outcome, rows = "imported", result.imported
    except BookingFileInvalid as exc:
        outcome, rows = "refused", len(exc.problems)
    answer["seconds"] = time.perf_counter() - began
    answer["rss_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    answer.update(outcome=outcome, rows=rows, stored=services.store.appointments.count("demo"))
    if outcome != expect:
        raise SystemExit(f"{path.name}: {outcome}, expected {expect}")
    if api:
        answer["reads"] = _reads(app, token_flow.create_token(services, role="site_supervisor", site_id="demo",
                                                                station=None, name="bench"))
    app.extensions["siteflow_live"].stop()
    services.store.engine.dispose()
    return answer


def codes_child(database_url: str, count: int) -> dict:
    """The booking codes of a `count`-row import alone: made, and checked against the site's."""
    from app import create_app
    from app.clock import FixedClock
    from app.domain.appointments import new_code
    from app.flow import appointments as flow
    from app.flow import sites as site_flow
    from app.store.migrate import upgrade
    from app.store.sealing import generate_lookup_key, generate_master_key

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench", "CLOCK": FixedClock(NOW),
                      "DATA_KEYS": generate_master_key(), "LOOKUP_KEY": generate_lookup_key()})
    services = app.extensions["siteflow"]
    upgrade(services.store.engine)
    site_flow.load_site_file(services, ROOT / "sites" / "demo.toml")
    began = time.perf_counter()
    for _ in range(count):
        new_code()
    made = time.perf_counter() - began
    began = time.perf_counter()
    codes = flow._fresh_codes(services, "demo", count)
    checked = time.perf_counter() - began
    assert len(set(codes)) == count
    app.extensions["siteflow_live"].stop()
    services.store.engine.dispose()
    return {"new_code_s": made, "fresh_codes_s": checked}


def _reads(app, token: str) -> dict:
    """The imported day's summary and list pages, five times each (the first is also kept apart)."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    base = "/api/v1/sites/demo/appointments"

    def timed(url: str, params: dict) -> tuple[list[float], dict]:
        times, body = [], {}
        for _ in range(5):
            began = time.perf_counter()
            response = client.get(url, headers=headers, query_string=params)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET {url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            body = response.get_json()
        return times, body

    reads = {}
    summary_times, summary = timed(base + "/summary", {"date": DAY.isoformat()})
    reads["summary"] = {"first_ms": round(summary_times[0], 1), "median_ms": round(statistics.median(summary_times), 1),
                        "slots": len(summary["slots"]), "groups": len(summary["groups"])}
    first_times, page = timed(base, {"date": DAY.isoformat(), "limit": 200})
    reads["list_first_page_200"] = {"first_ms": round(first_times[0], 1),
                                    "median_ms": round(statistics.median(first_times), 1)}
    middle = page["appointments"] and _middle_cursor(app)
    middle_times, _ = timed(base, {"date": DAY.isoformat(), "limit": 200, "after": middle})
    reads["list_middle_page_200"] = {"first_ms": round(middle_times[0], 1),
                                     "median_ms": round(statistics.median(middle_times), 1)}
    booked_times, _ = timed(base, {"date": DAY.isoformat(), "limit": 200, "status": "booked"})
    reads["list_booked_page_200"] = {"first_ms": round(booked_times[0], 1),
                                     "median_ms": round(statistics.median(booked_times), 1)}
    return reads


def _middle_cursor(app) -> int:
    from sqlalchemy import func, select

    from app.store.tables import appointments

    with app.extensions["siteflow"].store.engine.connect() as conn:
        low, high = conn.execute(select(func.min(appointments.c.id), func.max(appointments.c.id))).one()
    return (low + high) // 2


# ---------------------------------------------------------------------------------------------
# The parent: files, databases, the measures, the profile, the results
# ---------------------------------------------------------------------------------------------

class Databases:
    """A fresh database per measure: a SQLite file, or a database on a PostgreSQL server."""

    def __init__(self, kind: str, work: Path, server: str | None = None):
        self.kind, self.work, self.factory, self.count = kind, work, None, 0
        if kind == "postgres":
            from tests.support.services import PostgresDatabaseFactory

            self.factory = PostgresDatabaseFactory(server)

    def fresh(self) -> str:
        self.count += 1
        if self.factory is not None:
            return self.factory()
        return f"sqlite:///{self.work / f'bench-{self.count}.db'}"

    def drop(self, url: str) -> None:
        if self.factory is not None:
            self.factory.drop(url)
        else:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)


def measure(code_root: Path, databases: Databases, path: Path | None, expect: str, api: bool = False,
            profile: Path | None = None, codes: int = 0) -> dict:
    url = databases.fresh()
    command = [sys.executable, str(Path(__file__).resolve()), "child", url, str(path), expect]
    if codes:
        command = [sys.executable, str(Path(__file__).resolve()), "codes", url, str(codes)]
    if api:
        command.append("--api")
    if profile is not None:
        command = ["py-spy", "record", "--rate", "200", "--format", "raw", "--nonblocking", "-o", str(profile),
                   "--", *command]
    done = subprocess.run(command, cwd=code_root, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(code_root)))
    databases.drop(url)
    os.sync()  # the dropped database's writes are not left to slow the next measure
    if done.returncode:
        raise SystemExit(f"{code_root} {path.name}: {done.stderr[-3000:]}")
    return json.loads(next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{")))


# Where an import's time goes: the samples inside `import_rows`, each counted for the first of
# these parts found anywhere in its stack (so a query made for the booking codes counts for the
# codes, not for INSERT); the shares add up to 100 %.
PARTS = (
    ("Fernet sealing (Sealer.seal)", ("seal (app/store/sealing.py",)),
    ("document hash (HMAC Sealer.lookup)", ("lookup (app/store/sealing.py",)),
    ("booking codes (new_code + codes_taken)", ("_fresh_codes (app/flow/appointments.py",)),
    ("already booked? (booked_among)", ("booked_among (app/store/appointment_store.py",)),
    ("resident ID and document checks", ("parse_document (app/domain/identity.py",)),
    ("row checks (read_row, other)", ("read_row (app/domain/appointments.py",)),
    ("file parsing (CSV/XLSX reader)", ("_csv_records (app/flow/booking_files.py",
                                        "_xlsx_records (app/flow/booking_files.py", "csv_rows (app", "xlsx_rows (app")),
    ("INSERT (SQLAlchemy + driver)", ("add (app/store/appointment_store.py",)),
    ("duplicate check and the rest of read_rows", ("read_rows (app/domain/appointments.py",)),
    ("audit", ("record (app/flow/audit.py",)),
)
IMPORT_FRAME = "import_rows (app/flow/appointments.py"


def profile_parts(raw: Path) -> dict:
    """The share of the import's samples in each part, from py-spy's raw (collapsed) stacks."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if IMPORT_FRAME not in stack or not count.isdigit():
            continue
        total += int(count)
        frames = stack.split(";")
        part = next((name for name, marks in PARTS if any(mark in frame for frame in frames for mark in marks)),
                    "import_rows, other")
        if part == "INSERT (SQLAlchemy + driver)" and not any(
                mark in frame for frame in frames for mark in ("sqlalchemy", "sqlite3", "psycopg")):
            part = "building the rows to insert (store add, other)"
        counts[part] += int(count)
    return {"import_samples": total,
            "shares": {name: round(count / total, 3) for name, count in counts.most_common()} if total else {}}


def _summary(runs: list[dict], rows: int) -> dict:
    seconds = [run["seconds"] for run in runs]
    return {"seconds_median": round(statistics.median(seconds), 2), "seconds_all": [round(s, 2) for s in seconds],
            "rows_per_s": round(rows / statistics.median(seconds)),
            "rss_peak_mb": max(run["rss_peak_mb"] for run in runs),
            "rss_before_mb": max(run["rss_before_mb"] for run in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each measure (the median is reported)")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL cluster")
    parser.add_argument("--against", type=Path, help="another checkout: every measure with its app/ too, interleaved")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--profile", action="store_true", help="py-spy over one CSV import")
    parser.add_argument("--no-write", action="store_true", help="print only; bench/results is left alone")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # so a PostgreSQL cluster started here is stopped

    work = Path(tempfile.mkdtemp(prefix="siteflow-bookings-"))
    rows = booking_rows(args.rows)
    files: dict[str, dict[str, Path]] = {}
    began = time.perf_counter()
    for kind in args.formats.split(","):
        good, bad = work / f"bookings.{kind}", work / f"bookings-bad-last.{kind}"
        (write_csv if kind == "csv" else write_xlsx)(good, rows)
        (write_csv if kind == "csv" else write_xlsx)(bad, bad_last(rows))
        files[kind] = {"good": good, "bad": bad}
    print(f"files of {args.rows} rows made in {time.perf_counter() - began:.1f} s in {work}: "
          + ", ".join(f"{kind} {paths['good'].stat().st_size / 1e6:.1f} MB" for kind, paths in files.items()))

    backends: list[tuple[str, Databases]] = [("sqlite", Databases("sqlite", work))]
    cluster = None
    notes: list[str] = []
    server = os.environ.get("DATABASE_URL", "")
    try:
        if server.startswith("postgres"):
            backends.append(("postgres", Databases("postgres", work, server)))
        elif args.postgres:
            from tests.support.services import PostgresCluster, find_postgres_bindir

            bindir = find_postgres_bindir()
            if bindir is None:
                notes.append("PostgreSQL not measured: no initdb/postgres found (apt-get install postgresql)")
            else:
                cluster = PostgresCluster(bindir)
                backends.append(("postgres", Databases("postgres", work, cluster.start())))
        else:
            notes.append("PostgreSQL not measured: give DATABASE_URL (a server's URL) or --postgres")
    except Exception as exc:  # noqa: BLE001 - a server that cannot be had is a note, not a failure
        notes.append(f"PostgreSQL not measured: {exc}")
    for note in notes:
        print(note)

    trees = [("this", ROOT)] + ([("against", args.against.resolve())] if args.against else [])
    results: dict = {"rows": args.rows, "cores": os.cpu_count(), "load_average_at_start": os.getloadavg(), "slots": len(SLOTS), "groups": GROUPS,
                     "no_phone_share": NO_PHONE, "notes": notes, "trees": {name: str(root) for name, root in trees},
                     "file_mb": {kind: round(paths["good"].stat().st_size / 1e6, 2) for kind, paths in files.items()}}
    try:
        for backend, databases in backends:
            runs: dict[tuple, list[dict]] = {}
            for repeat in range(args.repeats):
                for kind, paths in files.items():
                    # Interleaved, both trees seeing the same machine, and which goes first turns
                    # each repeat (a measure right after a large import ran slower: order matters).
                    for tree, root in trees[repeat % len(trees):] + trees[:repeat % len(trees)]:
                        for measure_name, path, expect in (("validate", paths["bad"], "refused"),
                                                           ("import", paths["good"], "imported")):
                            api = measure_name == "import" and kind == "csv"
                            run = measure(root, databases, path, expect, api=api)
                            runs.setdefault((tree, kind, measure_name), []).append(run)
                            print(f"{backend} {tree} {kind} {measure_name}: {run['seconds']:.2f} s "
                                  f"({args.rows / run['seconds']:,.0f} rows/s), peak RSS {run['rss_peak_mb']:.0f} MB"
                                  + (f"; summary {run['reads']['summary']['median_ms']} ms, list page "
                                     f"{run['reads']['list_first_page_200']['median_ms']} ms" if api else ""))
            table: dict = {}
            for (tree, kind, measure_name), done in runs.items():
                entry = _summary(done, args.rows)
                if "reads" in done[-1]:
                    entry["reads"] = done[-1]["reads"]
                table.setdefault(tree, {}).setdefault(kind, {})[measure_name] = entry
            if args.against and args.repeats:
                table["ratio_this_to_against"] = {
                    kind: {name: round(table["this"][kind][name]["seconds_median"]
                                       / table["against"][kind][name]["seconds_median"], 2)
                           for name in ("validate", "import")} for kind in files}
            results[backend] = table
        # The booking codes of an import alone (the optimised step), on SQLite, interleaved, 6 times.
        code_runs: dict[str, list[dict]] = {}
        for repeat in range(6):
            for tree, root in trees[repeat % len(trees):] + trees[:repeat % len(trees)]:
                code_runs.setdefault(tree, []).append(measure(root, backends[0][1], None, "", codes=args.rows))
        results["codes_sqlite"] = {
            tree: {key: round(statistics.median(run[key] for run in done), 3) for key in ("new_code_s", "fresh_codes_s")}
            for tree, done in code_runs.items()}
        print("booking codes for", args.rows, "rows:", json.dumps(results["codes_sqlite"]))
        if args.profile:
            raw = work / "profile.txt"
            run = measure(ROOT, backends[0][1], files["csv"]["good"] if "csv" in files else next(iter(files.values()))["good"],
                          "imported", profile=raw)
            results["profile_csv_import_sqlite"] = {"seconds_under_py_spy": round(run["seconds"], 2), **profile_parts(raw)}
            print(json.dumps(results["profile_csv_import_sqlite"], indent=1, ensure_ascii=False))
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    results["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["load_average_at_end"] = os.getloadavg()
    if not args.no_write:
        out = ROOT / "bench" / "results" / "appointments.json"
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written: {out}")
    else:
        print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "codes":
        print(json.dumps(codes_child(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2], Path(sys.argv[3]), sys.argv[4], "--api" in sys.argv[5:])))
    else:
        main()
