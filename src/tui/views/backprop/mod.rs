//! The backprop lesson's view: an expression's graph as boxes (`graph.rs`)
//! and, beside or under it, the backward pass one product per keypress:
//! the local derivative with its rule, the gradient arriving from above,
//! their product, and the sum when a value is used twice. `e` types
//! another expression, `a` its values; `v` switches to the XOR MLP's
//! parameters written out the same way (`xor.rs`). The numbers come from
//! [`crate::explain::backprop`] and [`crate::explain::backprop_mlp`],
//! which the tests check against the engine's backward().

mod graph;
mod xor;

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::line_edit::LineEdit;
use super::{pane_block, plain};
use crate::explain::backprop::{num, parse_at, variables_in, Graph, Step};
use crate::explain::backprop_mlp::MlpParams;

pub use xor::XorState;

/// The view's keys, for the help (`?`).
pub const KEYS: &[(&str, &str)] = &[
    ("→ / Space / n", "the next product of the backward pass"),
    ("← / p", "one product back"),
    ("Home / End", "the start / all the products"),
    ("r", "restart the backward pass"),
    (
        "e",
        "type another expression (+ - * / ^ sigmoid tanh relu exp log)",
    ),
    ("a", "change the values, e.g. w=-2,x=5,b=3"),
    ("v", "switch to the XOR MLP's parameters and back"),
    ("1-4 / ↑ ↓", "the XOR row (XOR view)"),
    ("Enter / Esc", "apply / cancel what is being typed"),
];

/// What the one-line editor is editing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Expr,
    At,
}

/// The view's state.
pub struct BackpropPane {
    pub expr: String,
    /// The values as `w=-2,x=5,b=3`.
    pub at: String,
    pub graph: Graph,
    pub steps: Vec<Step>,
    /// Products shown so far, 0..=steps.len().
    pub cursor: usize,
    /// Why the last expression or values typed were refused.
    pub error: Option<String>,
    /// A note on what was done (a variable given a value, …).
    pub note: Option<String>,
    pub editing: Option<(Field, LineEdit)>,
    /// The XOR MLP's parameters instead of the expression.
    pub xor_view: bool,
    pub xor: XorState,
}

/// A builder's error in the lab's words (keys, not command-line flags).
fn lab_error(e: crate::Error) -> String {
    let m = e.to_string();
    let m = match m.strip_prefix("--expr '") {
        Some(rest) => rest
            .split_once("': ")
            .map_or(rest.to_string(), |(_, why)| why.to_string()),
        None => m.replace("--at: ", "values: "),
    };
    m.replace(
        "give it one with --at, e.g. --at",
        "press a to give it one, e.g.",
    )
}

/// `w=-2,x=5,b=3`: the graph's variables first, then the others.
fn at_text(at: &BTreeMap<String, f64>, g: &Graph) -> String {
    let mut names: Vec<String> = g.variables().iter().map(|(_, n)| n.to_string()).collect();
    let rest: Vec<String> = at.keys().filter(|k| !names.contains(k)).cloned().collect();
    names.extend(rest);
    names
        .iter()
        .filter_map(|n| at.get(n).map(|v| format!("{n}={}", num(*v))))
        .collect::<Vec<_>>()
        .join(",")
}

impl BackpropPane {
    /// The view on `expr` at `at`; an expression that does not build falls
    /// back to the course's example, with the reason shown.
    pub fn new(expr: &str, at: &str) -> BackpropPane {
        use crate::explain::backprop::{DEFAULT_AT, DEFAULT_EXPR};
        let built = parse_at(at).and_then(|m| Graph::build(expr, &m));
        let (graph, error) = match built {
            Ok(g) => (g, None),
            Err(e) => (
                Graph::build(
                    DEFAULT_EXPR,
                    &parse_at(DEFAULT_AT).expect("the default parses"),
                )
                .expect("the default builds"),
                Some(lab_error(e)),
            ),
        };
        let xor = XorState::new(crate::explain::backprop_mlp::lesson_params().ok());
        let mut pane = BackpropPane {
            expr: graph.expr.clone(),
            at: at.to_string(),
            steps: Vec::new(),
            graph,
            cursor: 0,
            error,
            note: None,
            editing: None,
            xor_view: false,
            xor,
        };
        pane.set_graph(pane.graph.clone(), parse_at(at).unwrap_or_default());
        pane
    }

    /// A view on the XOR MLP with these weights (tests, other seeds).
    pub fn with_xor_params(mut self, params: MlpParams) -> BackpropPane {
        self.xor = XorState::new(Some(params));
        self
    }

    fn set_graph(&mut self, g: Graph, at: BTreeMap<String, f64>) {
        self.steps = g.backward().0;
        self.expr = g.expr.clone();
        self.at = at_text(&at, &g);
        self.graph = g;
        self.cursor = 0;
    }

    /// Whether every product has been shown (the lesson is done).
    pub fn done(&self) -> bool {
        self.cursor == self.steps.len()
    }

    /// Each node's gradient after the products shown so far (None where
    /// the backward pass has not arrived; f's own is 1 from the start).
    pub fn grads(&self) -> Vec<Option<f64>> {
        let mut g = vec![None; self.graph.nodes.len()];
        if let Some(last) = g.last_mut() {
            *last = Some(1.0);
        }
        for s in &self.steps[..self.cursor] {
            g[s.node_index] = Some(s.grad);
        }
        g
    }

    /// The step on show (the last product shown).
    pub fn current(&self) -> Option<&Step> {
        self.cursor.checked_sub(1).map(|i| &self.steps[i])
    }

    /// Use the expression typed; it keeps the values, and a variable without
    /// one gets 1 (said in a note). False, with the reason, if it does not build.
    pub fn apply_expr(&mut self, text: &str) -> bool {
        let mut at = parse_at(&self.at).unwrap_or_default();
        let missing: Vec<String> = variables_in(text)
            .into_iter()
            .filter(|v| !at.contains_key(v))
            .collect();
        for v in &missing {
            at.insert(v.clone(), 1.0);
        }
        match Graph::build(text, &at) {
            Ok(g) => {
                self.set_graph(g, at);
                self.error = None;
                self.note = (!missing.is_empty()).then(|| {
                    format!(
                        "{} had no value: set to 1 (press a to change it)",
                        missing.join(", ")
                    )
                });
                true
            }
            Err(e) => {
                self.error = Some(lab_error(e));
                false
            }
        }
    }

    /// Use the values typed (`w=-2,x=5,b=3`). False, with the reason, if
    /// they do not parse or leave a variable without a value.
    pub fn apply_at(&mut self, text: &str) -> bool {
        match parse_at(text).and_then(|at| Graph::build(&self.expr, &at).map(|g| (g, at))) {
            Ok((g, at)) => {
                self.set_graph(g, at);
                self.error = None;
                self.note = None;
                true
            }
            Err(e) => {
                self.error = Some(lab_error(e));
                false
            }
        }
    }

    /// Whether a line is being typed (then every key but Ctrl-C is the view's).
    pub fn is_editing(&self) -> bool {
        self.editing.is_some()
    }

    /// A key for the view; false if it is not one of its keys.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        if let Some((field, edit)) = self.editing.as_mut() {
            let field = *field;
            match key.code {
                KeyCode::Esc => {
                    self.editing = None;
                    self.error = None;
                }
                KeyCode::Enter => {
                    let text = edit.text.clone();
                    let ok = match field {
                        Field::Expr => self.apply_expr(&text),
                        Field::At => self.apply_at(&text),
                    };
                    if ok {
                        self.editing = None;
                    }
                }
                _ => {
                    edit.handle_key(key);
                }
            }
            return true;
        }
        if self.xor_view {
            if self.xor.handle_key(key) {
                return true;
            }
        } else {
            let n = self.steps.len();
            match key.code {
                KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('n') => {
                    self.cursor = (self.cursor + 1).min(n)
                }
                KeyCode::Left | KeyCode::Char('p') => self.cursor = self.cursor.saturating_sub(1),
                KeyCode::Home | KeyCode::Char('r') => self.cursor = 0,
                KeyCode::End => self.cursor = n,
                _ => return self.common_key(key),
            }
            return true;
        }
        self.common_key(key)
    }

    /// Keys both views share: e, a, v.
    fn common_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char('e') => {
                self.xor_view = false;
                self.editing = Some((Field::Expr, LineEdit::new(&self.expr)));
            }
            KeyCode::Char('a') => {
                self.xor_view = false;
                self.editing = Some((Field::At, LineEdit::new(&self.at)));
            }
            KeyCode::Char('v') => self.xor_view = !self.xor_view,
            _ => return false,
        }
        true
    }

    /// The status line's keys for the view's state.
    pub fn status_keys(&self) -> &'static [&'static str] {
        match (&self.editing, self.xor_view) {
            (Some(_), _) => &["Enter apply", "Esc cancel"],
            (None, true) => &["→ next", "← back", "1-4 row", "v expression"],
            (None, false) => &["→ next", "← back", "e expression", "a values", "v XOR MLP"],
        }
    }
}

/// `label` as it reads after ∂: bare when it is a name or a number, else
/// in brackets (`∂f/∂w`, `∂f/∂(w*x)`).
fn d_of(label: &str) -> String {
    if label
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        label.to_string()
    } else {
        format!("({label})")
    }
}

impl BackpropPane {
    /// The node's name after ∂: `f` for the output.
    fn d_name(&self, index: usize, label: &str) -> String {
        if index + 1 == self.graph.nodes.len() {
            "f".into()
        } else {
            d_of(label)
        }
    }

    /// The panel's lines: the expression, the editor, the step on show
    /// written out, then the earlier products, newest first.
    fn panel_lines(&self, width: u16) -> Vec<Line<'static>> {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let dim = Style::new().fg(Color::DarkGray);
        let g = &self.graph;
        let vars: Vec<String> = g
            .variables()
            .iter()
            .map(|(i, n)| format!("{n} = {}", num(g.nodes[*i].value)))
            .collect();
        let mut lines = vec![Line::styled(
            format!(
                "f = {} at {}: f = {}",
                g.expr,
                vars.join(", "),
                num(g.output().value)
            ),
            bold,
        )];
        if let Some((field, edit)) = &self.editing {
            let label = match field {
                Field::Expr => "expression: ",
                Field::At => "values: ",
            };
            let room = usize::from(width).saturating_sub(label.len() + 1);
            let mut spans = vec![Span::styled(label, Style::new().fg(Color::Yellow))];
            spans.extend(edit.spans(room));
            lines.push(Line::from(spans));
            lines.push(Line::styled(
                match field {
                    Field::Expr => "Enter uses it, Esc cancels: numbers, names, + - * / ^, sigmoid tanh relu exp log",
                    Field::At => "Enter uses them, Esc cancels: NAME=VALUE, separated by ','",
                },
                dim,
            ));
        }
        if let Some(e) = &self.error {
            lines.push(Line::styled(
                e.clone(),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        if let Some(n) = &self.note {
            lines.push(Line::styled(n.clone(), Style::new().fg(Color::Green)));
        }
        lines.push(Line::raw(""));
        let n = self.steps.len();
        match self.current() {
            None => {
                lines.push(Line::styled(
                    "Forward pass done: each box shows its value.",
                    bold,
                ));
                lines.push(Line::raw(format!(
                    "The backward pass starts at f with ∂f/∂f = 1 and takes {n} products, \
                     one per edge; press → or Space for the first."
                )));
            }
            Some(s) => {
                let (p, c) = (
                    self.d_name(s.parent_index, &s.parent),
                    self.d_name(s.node_index, &s.node),
                );
                lines.push(Line::styled(
                    format!(
                        "Backward step {} of {n}: from {} into {}",
                        self.cursor, p, c
                    ),
                    bold,
                ));
                lines.push(Line::raw(format!("local     ∂{p}/∂{c} = {}", num(s.local))));
                lines.push(Line::styled(
                    format!("          rule: {}", s.rule),
                    Style::new().fg(Color::Cyan),
                ));
                lines.push(Line::raw(format!(
                    "upstream  ∂f/∂{p} = {}",
                    num(s.upstream)
                )));
                let product = s.local * s.upstream;
                lines.push(Line::raw(format!(
                    "product   {} × {} = {}",
                    num(s.local),
                    num(s.upstream),
                    num(product)
                )));
                let before = self.steps[..self.cursor - 1]
                    .iter()
                    .any(|e| e.node_index == s.node_index);
                let grad = if before {
                    format!(
                        "grad {} = {} + {} = {}   ({} is used more than once: the gradients add up)",
                        d_of(&s.node),
                        num(s.grad - product),
                        num(product),
                        num(s.grad),
                        s.node
                    )
                } else {
                    format!("grad {} = {}", d_of(&s.node), num(s.grad))
                };
                lines.push(Line::styled(grad, Style::new().fg(Color::Green)));
                if self.done() {
                    let grads = self.grads();
                    let all: Vec<String> = g
                        .variables()
                        .iter()
                        .map(|(i, n)| format!("∂f/∂{n} = {}", grads[*i].map_or("0".into(), num)))
                        .collect();
                    lines.push(Line::raw(""));
                    lines.push(Line::styled(
                        format!(
                            "Done: {} (the engine's backward() gives the same)",
                            all.join(", ")
                        ),
                        bold,
                    ));
                }
            }
        }
        if self.cursor > 1 {
            lines.push(Line::raw(""));
            lines.push(Line::styled("Earlier products, newest first:", dim));
            for s in self.steps[..self.cursor - 1].iter().rev() {
                lines.push(Line::styled(
                    format!(
                        "∂f/∂{} += {} × {} = {}",
                        d_of(&s.node),
                        num(s.local),
                        num(s.upstream),
                        num(s.local * s.upstream)
                    ),
                    dim,
                ));
            }
        }
        lines
    }
}

/// Draw the view into `area` (the screen above the status line).
pub fn render(pane: &BackpropPane, ascii: bool, area: Rect, buf: &mut Buffer) {
    let title = if pane.xor_view {
        "Backprop: the XOR MLP, one product at a time".to_string()
    } else {
        format!("Backprop: f = {}", pane.expr)
    };
    let block = pane_block(&title, true, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height < 2 {
        return;
    }
    if pane.xor_view {
        return xor::render(&pane.xor, ascii, inner, buf);
    }
    let grads = pane.grads();
    // beside the graph on a wide screen, else under it; a graph too wide for
    // the screen is listed instead
    let panel_w = (inner.width * 2 / 5).max(40);
    let side_room = inner.width.saturating_sub(panel_w + 1);
    let mut placement = graph::place(&pane.graph, &grads, 1);
    let side = inner.width >= 120 && placement.width <= side_room;
    let fits_h = |p: &graph::Placement, room: u16| p.height <= room;
    let (graph_room, panel) = if side {
        (
            Rect::new(inner.x, inner.y, side_room, inner.height),
            Rect::new(inner.right() - panel_w, inner.y, panel_w, inner.height),
        )
    } else {
        // the panel keeps at least 8 rows
        let room = inner.height.saturating_sub(8);
        if !fits_h(&placement, room) {
            placement = graph::place(&pane.graph, &grads, 0);
        }
        let h = if placement.width <= inner.width && fits_h(&placement, room) {
            placement.height + 1
        } else {
            (pane.graph.nodes.len() as u16 + 2).min(room)
        };
        (
            Rect::new(inner.x, inner.y, inner.width, h),
            Rect::new(inner.x, inner.y + h, inner.width, inner.height - h),
        )
    };
    if side && !fits_h(&placement, graph_room.height) {
        placement = graph::place(&pane.graph, &grads, 0);
    }
    if placement.width <= graph_room.width && placement.height <= graph_room.height {
        let top = if side {
            (graph_room.height - placement.height) / 2
        } else {
            0
        };
        let centred = Rect {
            y: graph_room.y + top,
            height: graph_room.height - top,
            ..graph_room
        };
        graph::render(
            &pane.graph,
            &grads,
            pane.current(),
            &placement,
            ascii,
            centred,
            buf,
        );
    } else {
        list_fallback(pane, &grads, ascii, graph_room, buf);
    }
    let mut lines = pane.panel_lines(panel.width);
    if ascii {
        lines = plain::ascii_lines(lines);
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(panel, buf);
}

/// The graph as a list of nodes when its boxes do not fit: each op with its
/// value and gradient so far, the step on show marked.
fn list_fallback(
    pane: &BackpropPane,
    grads: &[Option<f64>],
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    let cur = pane.current();
    let mut lines = vec![Line::styled(
        "(the graph's boxes need a larger window; its nodes:)",
        Style::new().fg(Color::DarkGray),
    )];
    for (i, n) in pane.graph.nodes.iter().enumerate().rev() {
        let mark = match cur {
            Some(s) if s.node_index == i => "→ ",
            Some(s) if s.parent_index == i => "* ",
            _ => "  ",
        };
        lines.push(Line::raw(format!(
            "{mark}{} = {}   ∂ {}",
            n.label,
            num(n.value),
            grads[i].map_or("?".into(), num)
        )));
    }
    if ascii {
        lines = plain::ascii_lines(lines);
    }
    Paragraph::new(lines).render(area, buf);
}
