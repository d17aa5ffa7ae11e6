"""PLINK reading/writing against a .bed written byte by byte here (not by bed-reader)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imaging_genetics.io import iter_plink, read_bim, read_fam, read_plink, write_plink

# A1 dosage -> 2-bit PLINK code: 00 hom A1, 01 missing, 10 het, 11 hom A2.
CODE = {2: 0b00, -1: 0b01, 1: 0b10, 0: 0b11}

# 5 samples x 3 SNPs of A1 dosages; -1 = missing.
TRUTH = np.array(
    [
        [2, 0, 1],
        [1, -1, 0],
        [0, 2, 2],
        [-1, 1, 1],
        [2, 2, 0],
    ]
)


def encode_bed(dosage: np.ndarray) -> bytes:
    n, p = dosage.shape
    out = bytearray([0x6C, 0x1B, 0x01])
    for j in range(p):
        for start in range(0, n, 4):
            byte = 0
            for k, i in enumerate(range(start, min(start + 4, n))):
                byte |= CODE[int(dosage[i, j])] << (2 * k)
            out.append(byte)
    return bytes(out)


def write_set(tmp_path, dosage=TRUTH, name="geno", iids=None):
    n, p = dosage.shape
    prefix = tmp_path / name
    (tmp_path / f"{name}.bed").write_bytes(encode_bed(dosage))
    iids = iids or [f"id{i}" for i in range(n)]
    (tmp_path / f"{name}.fam").write_text(
        "".join(f"fam{i} {iid} 0 0 {1 + i % 2} -9\n" for i, iid in enumerate(iids))
    )
    (tmp_path / f"{name}.bim").write_text(
        "".join(f"{1 + j // 2}\trs{j}\t0\t{1000 * (j + 1)}\tA\tG\n" for j in range(p))
    )
    return prefix


def expected_frame(dosage=TRUTH):
    vals = np.where(dosage < 0, np.nan, dosage).astype(float)
    return pd.DataFrame(
        vals,
        index=pd.Index([f"id{i}" for i in range(dosage.shape[0])], name="IID"),
        columns=pd.Index([f"rs{j}" for j in range(dosage.shape[1])], name="SNP"),
    )


def test_hand_written_bed_gives_a1_dosage(tmp_path):
    prefix = write_set(tmp_path)
    G = read_plink(prefix)
    pd.testing.assert_frame_equal(G, expected_frame(), check_index_type=False, check_column_type=False)
    assert G.dtypes.unique().tolist() == [np.float64]
    assert G.index.name == "IID"
    # The ".bed" extension is accepted in place of the prefix.
    pd.testing.assert_frame_equal(read_plink(str(prefix) + ".bed"), G)


def test_hand_written_bed_non_multiple_of_four_samples(tmp_path):
    rng = np.random.default_rng(0)
    dosage = rng.integers(-1, 3, size=(7, 4))
    prefix = write_set(tmp_path, dosage)
    np.testing.assert_array_equal(read_plink(prefix).to_numpy(), expected_frame(dosage).to_numpy())


def test_read_bim_and_fam(tmp_path):
    prefix = write_set(tmp_path)
    bim = read_bim(prefix)
    assert list(bim.columns) == ["chrom", "snp", "cm", "pos", "a1", "a2"]
    assert bim["pos"].tolist() == [1000, 2000, 3000]
    assert bim["chrom"].tolist() == ["1", "1", "2"]
    assert bim["a1"].tolist() == ["A"] * 3
    fam = read_fam(prefix)
    assert fam["iid"].tolist() == [f"id{i}" for i in range(5)]
    assert fam["sex"].tolist() == [1, 2, 1, 2, 1]


def test_selection_and_return_bim(tmp_path):
    prefix = write_set(tmp_path)
    exp = expected_frame()
    G, bim = read_plink(prefix, snps=["rs2", "rs0"], samples=["id3", "id1"], return_bim=True)
    pd.testing.assert_frame_equal(G, exp.loc[["id3", "id1"], ["rs2", "rs0"]], check_index_type=False,
                                  check_column_type=False)
    assert bim["snp"].tolist() == ["rs2", "rs0"]
    G = read_plink(prefix, snps=slice(1, 3))
    assert G.columns.tolist() == ["rs1", "rs2"]
    G = read_plink(prefix, snps=np.array([True, False, True]), samples=[0, 4])
    np.testing.assert_array_equal(G.to_numpy(), exp.iloc[[0, 4], [0, 2]].to_numpy())


def test_iter_plink_chunks(tmp_path):
    prefix = write_set(tmp_path)
    chunks = list(iter_plink(prefix, chunk_size=2))
    assert [c[0].shape[1] for c in chunks] == [2, 1]
    assert chunks[1][1]["snp"].tolist() == ["rs2"]
    joined = pd.concat([c[0] for c in chunks], axis=1)
    np.testing.assert_array_equal(joined.to_numpy(), expected_frame().to_numpy())
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_plink(prefix, chunk_size=0))


def test_chunked_reads_read_the_tables_once(tmp_path, monkeypatch):
    import imaging_genetics.io.plink as plink_io

    prefix = write_set(tmp_path)
    calls = []
    for name in ("read_bim", "read_fam"):
        real = getattr(plink_io, name)
        monkeypatch.setattr(plink_io, name, lambda prefix, real=real, name=name: calls.append(name) or real(prefix))
    chunks = list(iter_plink(prefix, chunk_size=1))
    assert len(chunks) == 3 and sorted(calls) == ["read_bim", "read_fam"]
    with plink_io.PlinkSet(prefix) as geno:
        parts = [geno.read(slice(j, j + 1), samples=[4, 0]) for j in range(3)]
    np.testing.assert_array_equal(pd.concat(parts, axis=1).to_numpy(),
                                  read_plink(prefix, samples=[4, 0]).to_numpy())


def test_write_plink_round_trip(tmp_path):
    exp = expected_frame()
    bed = write_plink(tmp_path / "out", exp)
    assert bed == tmp_path / "out.bed"
    # The .bed written matches the bytes written by hand.
    assert bed.read_bytes() == encode_bed(TRUTH)
    back = read_plink(tmp_path / "out")
    pd.testing.assert_frame_equal(back, exp, check_index_type=False, check_column_type=False)
    # bim/fam given explicitly are kept.
    bim = read_bim(write_set(tmp_path))
    fam = read_fam(tmp_path / "geno")
    write_plink(tmp_path / "out2", exp, bim=bim, fam=fam)
    pd.testing.assert_frame_equal(read_bim(tmp_path / "out2"), bim)
    pd.testing.assert_frame_equal(read_fam(tmp_path / "out2"), fam)


def test_write_plink_from_array_and_bad_values(tmp_path):
    write_plink(tmp_path / "arr", np.array([[0, 1], [2, np.nan]]))
    G = read_plink(tmp_path / "arr")
    assert G.index.tolist() == ["sample0", "sample1"]
    assert np.isnan(G.iloc[1, 1])
    bad = pd.DataFrame({"s1": [0.0, 1.5], "s2": [0, 1]})
    with pytest.raises(ValueError, match=r"other than 0, 1, 2.*s1"):
        write_plink(tmp_path / "bad", bad)
    with pytest.raises(ValueError, match="bim: has 1 rows"):
        write_plink(tmp_path / "bad", expected_frame(), bim=read_bim(write_set(tmp_path)).iloc[:1])


@pytest.mark.parametrize("ext", ["bed", "bim", "fam"])
def test_missing_member_is_named(tmp_path, ext):
    prefix = write_set(tmp_path)
    (tmp_path / f"geno.{ext}").unlink()
    with pytest.raises(FileNotFoundError, match=rf"geno\.{ext}"):
        read_plink(prefix)


def test_wrong_magic_bytes(tmp_path):
    prefix = write_set(tmp_path)
    bed = tmp_path / "geno.bed"
    bed.write_bytes(b"\x00\x00" + bed.read_bytes()[2:])
    with pytest.raises(ValueError, match=r"geno\.bed.*not a PLINK 1 \.bed"):
        read_plink(prefix)


def test_individual_major_mode_rejected(tmp_path):
    prefix = write_set(tmp_path)
    bed = tmp_path / "geno.bed"
    bed.write_bytes(b"\x6c\x1b\x00" + bed.read_bytes()[3:])
    with pytest.raises(ValueError, match="individual-major"):
        read_plink(prefix)


def test_truncated_bed(tmp_path):
    prefix = write_set(tmp_path)
    bed = tmp_path / "geno.bed"
    bed.write_bytes(bed.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"geno\.bed.*truncated"):
        read_plink(prefix)


def test_bim_fam_counts_not_matching_bed(tmp_path):
    prefix = write_set(tmp_path)
    with open(tmp_path / "geno.bim", "a") as fh:
        fh.write("2\trs9\t0\t9000\tA\tG\n")
    with pytest.raises(ValueError, match=r"geno\.bed.*geno\.bim lists 4 SNPs"):
        read_plink(prefix)
    prefix = write_set(tmp_path, name="g2")
    lines = (tmp_path / "g2.fam").read_text().splitlines()
    (tmp_path / "g2.fam").write_text("\n".join(lines[:3]) + "\n")  # 3 samples: 1 byte per SNP, .bed too long
    with pytest.raises(ValueError, match=r"g2\.fam lists 3 samples"):
        read_plink(prefix)


def test_duplicated_iids(tmp_path):
    prefix = write_set(tmp_path, iids=["a", "b", "a", "c", "d"])
    with pytest.raises(ValueError, match=r"geno\.fam.*duplicated sample IID.*'a'"):
        read_plink(prefix)


def test_duplicated_snp_ids_and_bad_columns(tmp_path):
    prefix = write_set(tmp_path)
    (tmp_path / "geno.bim").write_text("1 rs0 0 1 A G\n1 rs0 0 2 A G\n1 rs2 0 3 A G\n")
    with pytest.raises(ValueError, match=r"geno\.bim.*duplicated SNP ID.*rs0"):
        read_plink(prefix)
    (tmp_path / "geno.bim").write_text("1 rs0 0 1 A\n1 rs1 0 2 A\n1 rs2 0 3 A\n")
    with pytest.raises(ValueError, match=r"geno\.bim.*expected 6"):
        read_bim(prefix)
    (tmp_path / "geno.bim").write_text("1 rs0 0 x A G\n1 rs1 0 2 A G\n1 rs2 0 3 A G\n")
    with pytest.raises(ValueError, match=r"geno\.bim.*'pos'"):
        read_bim(prefix)


def test_unknown_selection_ids(tmp_path):
    prefix = write_set(tmp_path)
    with pytest.raises(ValueError, match=r"snps: 1 ID\(s\) not found in .*geno\.bim.*rsX"):
        read_plink(prefix, snps=["rs0", "rsX"])
    with pytest.raises(ValueError, match=r"samples: .*geno\.fam"):
        read_plink(prefix, samples=["nobody"])
    with pytest.raises(ValueError, match="boolean mask has length 2"):
        read_plink(prefix, snps=[True, False])


def test_write_plink_refuses_what_cannot_be_read_back(tmp_path):
    df = pd.DataFrame([[0.0, 1], [2, 1]], index=["a", "c"], columns=["x", "y"])
    bim = pd.DataFrame({"chrom": "1", "snp": ["y", "x"], "cm": 0.0, "pos": [1, 2], "a1": "A", "a2": "G"})
    with pytest.raises(ValueError, match=r"bim: its 'snp' column differs from the genotypes' columns \(position 0"):
        write_plink(tmp_path / "w", df, bim=bim)  # it would have relabelled the data
    fam = read_fam_like(["q", "r"])
    with pytest.raises(ValueError, match=r"fam: its 'iid' column differs from the genotypes' index"):
        write_plink(tmp_path / "w", df, fam=fam)
    bad = {"space in a SNP ID": (df.rename(columns={"x": "x y"}), r"'snp' value\(s\) empty or with whitespace"),
           "duplicated SNP IDs": (df.set_axis(["x", "x"], axis=1), r"bim: duplicated SNP ID\(s\) \['x'\]"),
           "empty IID": (df.set_axis(["", "c"], axis=0), r"fam: 1 'fid' value\(s\) empty or with whitespace")}
    for what, (frame, pattern) in bad.items():
        with pytest.raises(ValueError, match=pattern):
            write_plink(tmp_path / "w", frame)
    with pytest.raises(ValueError, match=r"'pos' value\(s\) that are not whole numbers"):
        write_plink(tmp_path / "w", df, bim=bim.assign(snp=["x", "y"], pos=[1.5, 2]))
    for bad_size in (2.5, "3", None, 0):
        with pytest.raises((TypeError, ValueError), match="chunk_size"):
            next(iter_plink(write_plink(tmp_path / "ok", df).with_suffix(""), chunk_size=bad_size))


def read_fam_like(iids):
    """A .fam table (as read_fam returns) for these IIDs."""
    return pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
