from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imaging_genetics.io import read_table


@pytest.fixture
def frame():
    return pd.DataFrame({"subject": ["007", "012", "101"], "roi1": [1.0, 2.0, 3.0], "roi2": [4, 5, 6]})


@pytest.mark.parametrize("name,sep", [("t.csv", ","), ("t.tsv", "\t"), ("t.txt", "\t"), ("t.txt", ";"),
                                      ("t.csv.gz", ",")])
def test_text_formats_and_sniffed_delimiter(tmp_path, frame, name, sep):
    path = tmp_path / name
    frame.to_csv(path, sep=sep, index=False)
    out = read_table(path, id_column="subject")
    assert out.index.tolist() == ["007", "012", "101"]  # leading zeros kept
    assert out.index.name == "subject"
    assert out.columns.tolist() == ["roi1", "roi2"]
    np.testing.assert_array_equal(out.to_numpy(dtype=float), frame[["roi1", "roi2"]].to_numpy(dtype=float))


def test_spaces_in_names_and_whitespace_separated(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("subject,Left Hippocampus,Right Amygdala\na,1,2\nb,3,4\n")
    assert read_table(path).columns.tolist() == ["Left Hippocampus", "Right Amygdala"]
    path = tmp_path / "w.txt"
    path.write_text("id  x   y\na  1   2\nb  3   4\n")
    out = read_table(path)
    assert out.columns.tolist() == ["x", "y"] and out.loc["b", "y"] == 4
    path = tmp_path / "s.csv"
    path.write_text("id;x\na;1.5\n")
    assert read_table(path, sep=";").loc["a", "x"] == 1.5


def test_parquet(tmp_path, frame):
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, index=False)
    out = read_table(path, id_column="subject", columns=["roi2"])
    assert out.index.tolist() == ["007", "012", "101"]
    assert out.columns.tolist() == ["roi2"]


def test_default_first_column_integer_position_and_none(tmp_path, frame):
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    assert read_table(path).index.tolist() == ["007", "012", "101"]
    assert read_table(path, id_column=0).index.name == "subject"
    out = read_table(path, id_column=None)
    assert isinstance(out.index, pd.RangeIndex)
    assert out.columns.tolist() == ["subject", "roi1", "roi2"]


def test_numeric_ids_become_strings(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,x\n1,0.5\n2,0.7\n")
    assert read_table(path, id_column="id").index.tolist() == ["1", "2"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        read_table(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"t\.xlsx.*unknown table format"):
        read_table(path)


def test_empty_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"t\.csv.*empty"):
        read_table(path)


def test_duplicated_ids_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,x\na,1\nb,2\na,3\nc,4\nc,5\n")
    with pytest.raises(ValueError, match=r"t\.csv: 2 duplicated ID\(s\) in column 'id'.*'a', 'c'"):
        read_table(path, id_column="id")


def test_missing_ids(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,x\na,1\n,2\n")
    with pytest.raises(ValueError, match=r"t\.csv: 1 row\(s\) without an ID in column 'id'.*line\(s\) \[3\]"):
        read_table(path, id_column="id")


def test_unknown_id_column_and_columns(tmp_path, frame):
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"t\.csv: no ID column 'IID'.*subject"):
        read_table(path, id_column="IID")
    with pytest.raises(ValueError, match=r"t\.csv: column\(s\) \['roi9'\] not found"):
        read_table(path, id_column="subject", columns=["roi9"])
    with pytest.raises(ValueError, match="out of range"):
        read_table(path, id_column=7)


def test_non_numeric_columns_reported(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,x,site,group\na,1,s1,g\nb,2,s2,h\n")
    with pytest.raises(ValueError, match=r"t\.csv: 2 non-numeric column\(s\) \['site', 'group'\]"):
        read_table(path, id_column="id", numeric=True)
    assert read_table(path, id_column="id", columns=["x"], numeric=True).shape == (2, 1)


def test_duplicated_column_names(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("id\tx\tx\na\t1\t2\n")
    with pytest.raises(ValueError, match=r"t\.tsv: duplicated column name\(s\) \['x'\]"):
        read_table(path, id_column="id")


def test_edge_list_file_feeds_graph_from_edges(tmp_path):
    from imaging_genetics.networks import graph_from_edges

    path = tmp_path / "ppi.tsv"
    path.write_text("gene_a\tgene_b\tweight\nAPOE\tTOMM40\t0.9\nAPOE\tCLU\t0.4\n")
    A = graph_from_edges(path, ["APOE", "TOMM40", "CLU"])
    assert A[0, 1] == 0.9 and A[2, 0] == 0.4 and A.nnz == 4


def test_aligned_text_spaces_around_names_and_argument_errors(tmp_path):
    # columns aligned with uneven runs of spaces are read as columns
    (tmp_path / "al.txt").write_text("subj   age   mmse\nS1      71     29\nS22     8      30\n")
    t = read_table(tmp_path / "al.txt", numeric=True)
    assert list(t.columns) == ["age", "mmse"] and list(t.index) == ["S1", "S22"] and t.loc["S22", "age"] == 8
    # spaces around IDs and names are layout: "A " is "A" (here a duplicate)
    (tmp_path / "ws.csv").write_text("id,x\nA,1\nA ,2\n")
    with pytest.raises(ValueError, match=r"duplicated ID\(s\) in column 'id', e.g. \['A'\]"):
        read_table(tmp_path / "ws.csv")
    (tmp_path / "c.csv").write_text("id, x\nA, 1\n")
    assert list(read_table(tmp_path / "c.csv").columns) == ["x"]
    (tmp_path / "only.csv").write_text("id\nA\nB\n")
    with pytest.raises(ValueError, match="only.csv: no data columns besides the ID column"):
        read_table(tmp_path / "only.csv", numeric=True)
    with pytest.raises(ValueError, match=r"columns: duplicated name\(s\) \['x'\]"):
        read_table(tmp_path / "c.csv", columns=["x", "x"], numeric=True)
    with pytest.raises(TypeError, match="id_column must be a column name, a column position or None"):
        read_table(tmp_path / "c.csv", id_column=True)
    # text=True keeps every column as written
    (tmp_path / "e.csv").write_text("a,b\n001,002\n")
    assert read_table(tmp_path / "e.csv", id_column=None, text=True).iloc[0].tolist() == ["001", "002"]
