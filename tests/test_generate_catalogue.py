"""The generator's catalogue lives in sample_data/catalogue.json; the data is unchanged.

The hashes were recorded from the generator as it was before the catalogue moved out of
the code (same seed, same arguments); moving tables into a data file must not change one
byte of what it writes. JSON Lines are hashed as written (gzip included: the generator
writes no timestamp into the gzip header); Parquet by its rows, as its file bytes carry
the writing pyarrow's version. A deliberate change to the catalogue changes these hashes:
record the new ones in the same commit (issue 25 did: the records gained who spent it,
drawn from seed streams of their own, so the other fields kept their values; issue 27
did: rate-limit bursts, rare 401s and 499s and gateway cache hits, from a seed stream of
their own, changed the requests they touch).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sample_data import generate
from sample_data.generate import generate_logs

CASES = {
    "jsonl.gz": (
        dict(
            fmt="jsonl.gz",
            duplicate_rate=0.02,
            late_rate=0.03,
            malformed_rate=0.01,
            semantic_faults=True,
            files_per_day=2,
        ),
        "aa7da38d9752fe744d53a97186b59a125c71751b88bd2c639e3929506cd70882",
    ),
    "jsonl": (
        dict(fmt="jsonl"),
        "8d7abf0a36d3b75ede05a30e54303a5d462262f03018698b5bb28ae90fe1ad02",
    ),
    "parquet": (
        dict(fmt="parquet", duplicate_rate=0.02, late_rate=0.03, malformed_rate=0.01),
        "a725dcc6232bd56c8f27b1dd4d345e730ff40c1677871e294d55ce1ef8020886",
    ),
}


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            digest.update(json.dumps(rows, default=str, sort_keys=True).encode())
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_small_generated_day_is_byte_identical_to_before_the_move(case, tmp_path):
    arguments, expected = CASES[case]
    generate_logs(tmp_path, date(2026, 3, 1), 2, 400, seed=11, **arguments)
    assert _digest(tmp_path) == expected


def test_the_catalogue_is_package_data_read_by_the_generator():
    catalogue = json.loads((Path(generate.__file__).parent / "catalogue.json").read_text())
    assert [m[0] for m in catalogue["models"]] == [m[0] for m in generate.MODELS]
    assert {r[1] for r in catalogue["routes"]} <= set(generate.PROVIDERS)
    assert {r[0] for r in catalogue["routes"]} == {m[0] for m in generate.MODELS}
