//! The small lessons' fourth pane: the computational graph of the cost, one
//! node a line in the order the forward pass computes it, each with its op
//! (the engine records one on every node), its value, and for the
//! parameters the gradient the next step uses: for gd-scalar
//!
//! ```text
//!  1 x             = 5.000    ∂cost/∂x = 4.000
//!  2 add(#1, −3)   = 2.000
//!  3 pow(#2, 2)    = 4.000
//!  4 add(#3, 4)    = 8.000    the cost
//! ```
//!
//! The graph is the engine's own (`SmallSession::cost`), walked from the
//! cost to its leaves; the gradients are the stepper's [`Slope`](crate::tui::stepper::Slope).

use std::collections::HashSet;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::num;
use crate::engine::ops::Op;
use crate::engine::Array;
use crate::tui::stepper::Stepper;
use crate::tui::views::pane_block;
use crate::Tensor;

/// One node of the cost's graph, as the pane writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphLine {
    /// "x", "W", "data [3x1]", "matmul(#1, #2)".
    pub expr: String,
    /// "5.000", "[1.000, 2.000, 3.000]", "[1000x1] mean 4.000".
    pub value: String,
    /// "∂cost/∂W = −9.333" for a parameter.
    pub grad: Option<String>,
}

/// Every node from the leaves to the cost, inputs before outputs (scalar
/// constants are written into their op instead of getting a line).
pub fn graph_lines(s: &Stepper) -> crate::Result<Vec<GraphLine>> {
    let cost = s.session.cost()?;
    let params = s.session.params();
    let grads = s.now.as_ref().map(|n| n.grads.clone()).unwrap_or_default();
    let order = forward_order(&cost);
    let mut number = std::collections::HashMap::new();
    let mut lines = Vec::new();
    for t in &order {
        let param = params.iter().find(|(_, p)| p.id() == t.id());
        if param.is_none() && is_constant(t) {
            continue;
        }
        let expr = match (t.op(), param) {
            (_, Some((name, _))) => name.clone(),
            (Some(op), None) => {
                let args: Vec<String> = op
                    .inputs()
                    .iter()
                    .map(|i| match number.get(&i.id()) {
                        Some(n) => format!("#{n}"),
                        None => num(i.to_array().iter().next().copied().unwrap_or(0.0)),
                    })
                    .collect();
                format!("{}({})", op_label(op), args.join(", "))
            }
            (None, None) => format!("data {}", shape(&t.shape())),
        };
        let grad = param.and_then(|(name, _)| {
            let g = grads.iter().find(|(n, _)| n == name)?;
            Some(format!("∂cost/∂{name} = {}", summary(&g.1)))
        });
        lines.push(GraphLine {
            expr,
            value: summary(&t.to_array()),
            grad,
        });
        number.insert(t.id(), lines.len());
    }
    Ok(lines)
}

/// The op's name; for the lessons' derived ops the engine's primitive.
fn op_label(op: &Op) -> &'static str {
    op.name()
}

/// A leaf holding one number that is not a parameter: a constant like the 3 in x − 3.
fn is_constant(t: &Tensor) -> bool {
    t.op().is_none() && t.numel() == 1 && !t.requires_grad()
}

/// Post-order walk from `root`: every input before the node that reads it.
fn forward_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if !seen.insert(node.id()) {
            continue;
        }
        stack.push((node.clone(), true));
        if let Some(op) = node.op() {
            // pushed in reverse so the first input comes out first
            for input in op.inputs().into_iter().rev() {
                if !seen.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order
}

fn shape(dims: &[usize]) -> String {
    let d: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", d.join("x"))
}

/// A value as the pane writes it: one number, up to three, or shape and mean.
fn summary(a: &Array) -> String {
    let v: Vec<f32> = a.iter().copied().collect();
    match v.len() {
        1 => num(v[0]),
        2..=3 => format!(
            "[{}]",
            v.iter().map(|&x| num(x)).collect::<Vec<_>>().join(", ")
        ),
        n => {
            let mean = v.iter().sum::<f32>() / n.max(1) as f32;
            format!("{} mean {}", shape(a.shape()), num(mean))
        }
    }
}

/// Draw the graph in the Conv/Pool pane's place.
pub fn render(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block("Graph: values & gradients", focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 10 || inner.height < 2 {
        return Line::from("too small").render(inner, buf);
    }
    let lines = match graph_lines(s) {
        Ok(l) => l,
        Err(e) => return Paragraph::new(format!("no graph: {e}")).render(inner, buf),
    };
    let dim = Style::new().fg(Color::DarkGray);
    let green = Style::new().fg(Color::Green);
    let mut out: Vec<Line> = vec![Line::styled("top to bottom; green = ∂cost/∂param", dim)];
    let n = lines.len();
    let room = inner.height as usize - 1;
    // too many nodes: the first ones (the parameters come early) and the cost
    let shown: Vec<usize> = if n <= room {
        (0..n).collect()
    } else {
        (0..room.saturating_sub(2))
            .chain([usize::MAX, n - 1])
            .collect()
    };
    for i in shown {
        let Some(l) = lines.get(i) else {
            out.push(Line::styled(
                format!("   … {} more (Enter: all)", n.saturating_sub(room - 1)),
                dim,
            ));
            continue;
        };
        let mut spans = vec![
            Span::styled(format!("{:>2} ", i + 1), dim),
            Span::styled(l.expr.clone(), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!(" = {}", l.value)),
        ];
        if let Some(g) = &l.grad {
            spans.push(Span::styled(format!("  {g}"), green));
        }
        if i + 1 == n {
            let arrow = if ascii { "  <- cost" } else { "  ← cost" };
            spans.push(Span::styled(arrow, Style::new().fg(Color::Yellow)));
        }
        out.push(Line::from(spans));
    }
    Paragraph::new(out).render(inner, buf);
}
