//! `dl-lab tensor`: the course's tensor code runs on the engine and prints
//! what PyTorch prints. The reference output was printed by PyTorch itself
//! (tests/fixtures/tensor/basics.torch.txt).

use std::io::Write;
use std::process::{Command, Stdio};

use dl_lab::script::{self, Scope};

/// Run `src` as a script: (stdout, warnings) or the error.
fn run(src: &str) -> Result<(String, String), String> {
    let (mut out, mut warn) = (Vec::new(), Vec::new());
    let mut scope = Scope::new();
    script::run(src, &mut scope, &mut out, &mut warn).map_err(|e| e.to_string())?;
    Ok((
        String::from_utf8(out).unwrap(),
        String::from_utf8(warn).unwrap(),
    ))
}

fn out(src: &str) -> String {
    match run(src) {
        Ok((o, _)) => o,
        Err(e) => panic!("{src}\nfailed: {e}"),
    }
}

fn err(src: &str) -> String {
    match run(src) {
        Ok((o, _)) => panic!("{src}\nshould fail, printed {o}"),
        Err(e) => e,
    }
}

/// PyTorch 2.x prints `max(dim=…)` as `torch.return_types.max(values=…,
/// indices=…)`; the course (and dl-lab) show the pair `(values, indices)`.
fn as_pairs(torch: &str) -> String {
    let mut s = torch.to_string();
    while let Some(start) = s.find("torch.return_types.max(\nvalues=") {
        let rest = &s[start..];
        let vi = rest.find("values=").unwrap() + "values=".len();
        let ii = rest.find(",\nindices=").unwrap();
        let end = rest.find("))").unwrap() + 2;
        let values = &rest[vi..ii];
        let indices = &rest[ii + ",\nindices=".len()..end - 1];
        let pair = format!("({values}, {indices})");
        s.replace_range(start..start + end, &pair);
    }
    s
}

#[test]
fn the_course_tensor_basics_print_as_pytorch_prints_them() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tensor");
    let src = std::fs::read_to_string(dir.join("basics.py")).unwrap();
    let torch = std::fs::read_to_string(dir.join("basics.torch.txt")).unwrap();
    let ours = out(&src);
    let expected = as_pairs(&torch);
    for (i, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, b, "line {} differs", i + 1);
    }
    assert_eq!(ours.lines().count(), expected.lines().count());
    // the pair the issue names
    assert!(
        ours.contains("(tensor([3., 4.]), tensor([1, 1]))"),
        "{ours}"
    );
}

#[test]
fn number_formats_follow_pytorch() {
    assert_eq!(
        out("print(torch.FloatTensor([[3, 3]]) + torch.FloatTensor([[2, 2]]))"),
        "tensor([[5., 5.]])\n"
    );
    assert_eq!(
        out("print(torch.FloatTensor([1, 4]).mean())"),
        "tensor(2.5000)\n"
    );
    assert_eq!(out("print(torch.tensor([1, 1]))"), "tensor([1, 1])\n");
    assert_eq!(
        out("print(torch.tensor([-1., 2.]))"),
        "tensor([-1.,  2.])\n"
    );
    assert_eq!(
        out("print(torch.tensor([0.5, -12.25]))"),
        "tensor([  0.5000, -12.2500])\n"
    );
    assert_eq!(
        out("print(torch.tensor([1e-5, 1.0]))"),
        "tensor([1.0000e-05, 1.0000e+00])\n"
    );
    assert_eq!(
        out("print(torch.tensor([True, False]))"),
        "tensor([ True, False])\n"
    );
    assert_eq!(out("print(torch.zeros(2))"), "tensor([0., 0.])\n");
    assert_eq!(out("print(torch.tensor(3.25))"), "tensor(3.2500)\n");
    assert_eq!(
        out("print(torch.tensor([1, 2]).shape)"),
        "torch.Size([2])\n"
    );
    assert_eq!(out("print(torch.tensor([1.5]).item())"), "1.5\n");
    assert_eq!(
        out("print(torch.tensor([0.1]).item())"),
        "0.10000000149011612\n"
    );
    assert_eq!(out("print('a', 1, 2.0, None, True)"), "a 1 2.0 None True\n");
    // more than 1,000 values are summarised
    let big = out("print(torch.arange(2000.))");
    assert_eq!(big, "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])\n");
}

#[test]
fn reductions_by_dimension_and_negative_dims() {
    let src = "t = torch.FloatTensor([[1, 2], [3, 4]])\n\
               print(t.sum(dim=-1))\nprint(t.mean(dim=0, keepdim=True))\n\
               print(t.max(dim=-1)[1])\nprint(t.argmax())\nprint(t.max(dim=0)[0])\n\
               v, i = t.max(dim=1)\nprint(v, i)\nprint(torch.sum(t, dim=0))\nprint(t.min())";
    assert_eq!(
        out(src),
        "tensor([3., 7.])\ntensor([[2., 3.]])\ntensor([1, 1])\ntensor(3)\ntensor([3., 4.])\n\
         tensor([2., 4.]) tensor([1, 1])\ntensor([4., 6.])\ntensor(1.)\n"
    );
    let e = err("t = torch.FloatTensor([[1, 2], [3, 4]])\nt.sum(dim=2)");
    assert!(
        e.contains("line 2")
            && e.contains("Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
        "{e}"
    );
}

#[test]
fn views_indexing_and_slicing() {
    let src = "t = torch.arange(12.).view(3, -1)\nprint(t.shape)\nprint(t[0])\nprint(t[:, 1])\n\
               print(t[1:, -1])\nprint(t[2][3])\nprint(t.view([-1]).shape)\nprint(t.view((2, 6))[1, 2:5])\n\
               print(t.t().shape)\nprint(t.size(-1), t.dim(), t.numel())";
    assert_eq!(
        out(src),
        "torch.Size([3, 4])\ntensor([0., 1., 2., 3.])\ntensor([1., 5., 9.])\ntensor([ 7., 11.])\n\
         tensor(11.)\ntorch.Size([12])\ntensor([ 8.,  9., 10.])\ntorch.Size([4, 3])\n4 2 12\n"
    );
    let e = err("t = torch.arange(12.)\nt.view(5, -1)");
    assert!(
        e.contains("shape '[5, -1]' is invalid for input of size 12"),
        "{e}"
    );
    let e = err("t = torch.arange(3.)\nt[3]");
    assert!(
        e.contains("index 3 is out of bounds for dimension 0 with size 3"),
        "{e}"
    );
}

#[test]
fn dtypes_combine_as_in_pytorch() {
    // integer / integer is a float; integer + float is a float; a Python int keeps the dtype
    assert_eq!(
        out("print(torch.tensor([1, 2]) / torch.tensor([2, 2]))"),
        "tensor([0.5000, 1.0000])\n"
    );
    assert_eq!(
        out("print(torch.tensor([1, 2]) + 0.5)"),
        "tensor([1.5000, 2.5000])\n"
    );
    assert_eq!(out("print(torch.tensor([1, 2]) * 3)"), "tensor([3, 6])\n");
    assert_eq!(out("print(torch.LongTensor([1, 2]).sum())"), "tensor(3)\n");
    assert_eq!(
        out("print(torch.tensor([1, 5]) > 2)"),
        "tensor([False,  True])\n"
    );
    let e = err("t = torch.LongTensor([1, 2])\nprint(t.mean())");
    assert!(
        e.contains("mean(): could not infer output dtype") && e.contains("Got: Long"),
        "{e}"
    );
}

#[test]
fn a_shape_mismatch_explains_the_broadcasting_rule() {
    let e = err("a = torch.ones(2, 3)\nb = torch.ones(2)\nprint(a + b)");
    assert!(e.contains("line 3: print(a + b)"), "{e}");
    assert!(e.contains("The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"), "{e}");
    assert!(
        e.contains("a is (2, 3) and b is (2,)") && e.contains("equal or one of them is 1"),
        "{e}"
    );
    let e = err("print(torch.ones(2, 2).matmul(torch.ones(1, 2)))");
    assert!(
        e.contains("mat1 and mat2 shapes cannot be multiplied (2x2 and 1x2)"),
        "{e}"
    );
}

#[test]
fn a_surprising_broadcast_warns_and_a_deliberate_one_does_not() {
    let (o, w) = run("x = torch.FloatTensor([1, 2, 3])\ny = torch.FloatTensor([[1], [2], [3]])\nd = x - y\nprint(d.shape)").unwrap();
    assert_eq!(o, "torch.Size([3, 3])\n");
    assert!(w.contains("(3,) - (3, 1) broadcasts to (3, 3)"), "{w}");
    // the course's own example: a row and a column of the same rank
    let (o, w) = run("print(torch.FloatTensor([[1, 2]]) + torch.FloatTensor([[3], [4]]))").unwrap();
    assert_eq!(o, "tensor([[4., 5.],\n        [5., 6.]])\n");
    assert_eq!(w, "");
}

#[test]
fn errors_name_the_line_and_stop_the_script() {
    let e = err("a = torch.ones(2)\nprint(a)\nprint(b)\nprint(a)");
    assert!(
        e.starts_with("line 3: print(b)\nNameError: name 'b' is not defined"),
        "{e}"
    );
    let e = err("print(torch.ones(2)");
    assert!(e.contains("SyntaxError"), "{e}");
    let e = err("t = torch.ones(2)\nt.shape()");
    assert!(e.contains("'torch.Size' object is not callable"), "{e}");
}

#[test]
fn the_prompt_echoes_values_keeps_names_and_survives_errors() {
    let input = "t = torch.FloatTensor([[1, 2],\n[3, 4]])\nt.shape\nnope\nt.max(dim=0)[1]\n";
    let (mut o, mut w) = (Vec::new(), Vec::new());
    script::prompt(&mut input.as_bytes(), &mut o, &mut w).unwrap();
    let o = String::from_utf8(o).unwrap();
    let w = String::from_utf8(w).unwrap();
    assert!(o.contains(">>> ... >>> torch.Size([2, 2])\n"), "{o}");
    assert!(o.contains(">>> tensor([1, 1])\n"), "{o}");
    assert!(w.contains("NameError: name 'nope' is not defined"), "{w}");
}

fn dl_lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dl-lab"))
}

#[test]
fn the_command_runs_code_a_file_or_standard_input() {
    let o = dl_lab()
        .args([
            "tensor",
            "-e",
            "t = torch.FloatTensor([[1, 2], [3, 4]]); print(t.mean(dim=0))",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "tensor([2., 3.])\n");

    let mut child = dl_lab()
        .arg("tensor")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"import torch\nx = torch.ones(2, 1)\nprint(x.squeeze())\nprint(y)\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "tensor([1., 1.])\n");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("<stdin>, line 4: print(y)") && e.contains("NameError"),
        "{e}"
    );

    let o = dl_lab()
        .args(["tensor", "/nonexistent/t.py"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/t.py"));
}

#[test]
fn the_tensor_basics_lesson_runs_its_lines_as_a_session() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(["run", "tensor-basics"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(">>> print(m1 + m2)\ntensor([[4., 5.],\n        [5., 6.]])\n"),
        "{out}"
    );
    assert!(
        out.contains(">>> print(t.mean(dim=0))\ntensor([2., 3.])\n"),
        "{out}"
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dl-lab"))
        .args(["run", "tensor-basics", "--json"])
        .output()
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap()).unwrap();
    assert_eq!(first["code"], "print(t.dim(), t.shape)");
    assert_eq!(first["output"], "1 torch.Size([7])\n");
}
