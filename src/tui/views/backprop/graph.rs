//! An expression's graph as boxes, inputs on the left and f on the right:
//! each box holds a node's label (its title), its value and, once the
//! backward pass has reached it, its gradient ∂f/∂node. Edges run from an
//! input's right side to its user's left side (`──►`); the edge of the
//! current backward step and its two boxes are highlighted.
//!
//! Layout: a node's column is 1 + its inputs' highest column (leaves in
//! column 0); leaves are stacked in the order a walk from f meets them,
//! every other node is centred on its inputs, pushed down where boxes
//! would overlap. Edges are drawn as direction bits per cell, so crossings
//! and joins get the right box-drawing character; boxes are drawn last.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::explain::backprop::{num, Graph, NodeOp, Step};
use crate::tui::views::text::width_of;

/// Cells between two columns of boxes (room for `─┬─►`).
const COL_GAP: u16 = 5;
/// The widest a box gets; longer labels are cut by the border.
const BOX_MAX: u16 = 20;

/// Where each box goes, relative to the graph's top-left corner.
pub struct Placement {
    pub boxes: Vec<Rect>,
    pub width: u16,
    pub height: u16,
}

/// A node's inside line: its value and its gradient so far (`?` before the
/// backward pass reaches it).
fn inside(g: &Graph, i: usize, grad: Option<f64>) -> String {
    let grad = grad.map_or("?".to_string(), num);
    format!("{} ∂ {grad}", num(g.nodes[i].value))
}

/// Labels longer than this give their box the op's name instead.
const LABEL_MAX: usize = 14;

/// The title: the node's label, or its op when the label is long (`f = …`
/// for the output).
fn title(g: &Graph, i: usize) -> String {
    let n = &g.nodes[i];
    let short = match &n.op {
        _ if width_of(&n.label) <= LABEL_MAX => n.label.clone(),
        NodeOp::Add => "+".into(),
        NodeOp::Sub => "-".into(),
        NodeOp::Mul => "*".into(),
        NodeOp::Div => "/".into(),
        NodeOp::Pow(e) => format!("^{}", num(*e)),
        op => op.name().into(),
    };
    if i + 1 == g.nodes.len() && !n.inputs.is_empty() {
        format!("f = {short}")
    } else {
        short
    }
}

/// Lay the graph out with `gap` empty rows between boxes in a column.
pub fn place(g: &Graph, grads: &[Option<f64>], gap: u16) -> Placement {
    let n = g.nodes.len();
    let mut col = vec![0usize; n];
    for i in 0..n {
        col[i] = g.nodes[i]
            .inputs
            .iter()
            .map(|&c| col[c] + 1)
            .max()
            .unwrap_or(0);
    }
    let cols = col.iter().copied().max().unwrap_or(0) + 1;
    // box widths, and each column's width
    let w: Vec<u16> = (0..n)
        .map(|i| {
            let t = width_of(&title(g, i)) as u16 + 2;
            let v = width_of(&inside(g, i, grads[i])) as u16 + 4;
            t.max(v).min(BOX_MAX)
        })
        .collect();
    let mut col_w = vec![0u16; cols];
    for i in 0..n {
        col_w[col[i]] = col_w[col[i]].max(w[i]);
    }
    let mut col_x = vec![0u16; cols];
    for c in 1..cols {
        col_x[c] = col_x[c - 1] + col_w[c - 1] + COL_GAP;
    }
    // leaves in the order a walk from f meets them
    let mut order = Vec::new();
    let mut seen = vec![false; n];
    let mut stack = vec![n - 1];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        stack.extend(g.nodes[i].inputs.iter().rev());
    }
    let rank: HashMap<usize, usize> = order.iter().enumerate().map(|(r, &i)| (i, r)).collect();
    let mut y = vec![0u16; n];
    let mut height = 0u16;
    for c in 0..cols {
        let mut members: Vec<(f32, usize)> = (0..n)
            .filter(|&i| col[i] == c)
            .map(|i| {
                let ins = &g.nodes[i].inputs;
                let want = if ins.is_empty() {
                    rank.get(&i).copied().unwrap_or(i) as f32 * 1000.0
                } else {
                    ins.iter().map(|&k| y[k] as f32).sum::<f32>() / ins.len() as f32
                };
                (want, i)
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut next = 0u16;
        for (want, i) in members {
            let want = if g.nodes[i].inputs.is_empty() {
                0
            } else {
                want.round() as u16
            };
            y[i] = want.max(next);
            next = y[i] + 3 + gap;
            height = height.max(y[i] + 3);
        }
    }
    let boxes = (0..n)
        .map(|i| Rect::new(col_x[col[i]], y[i], w[i], 3))
        .collect();
    let width = col_x[cols - 1] + col_w[cols - 1];
    Placement {
        boxes,
        width,
        height,
    }
}

const N: u8 = 1;
const E: u8 = 2;
const S: u8 = 4;
const W: u8 = 8;

fn line_char(mask: u8, ascii: bool) -> char {
    if ascii {
        return match mask {
            m if m & (N | S) != 0 && m & (E | W) != 0 => '+',
            m if m & (N | S) != 0 => '|',
            _ => '-',
        };
    }
    match mask {
        m if m == N | S || m == N || m == S => '│',
        m if m == E | S => '┌',
        m if m == W | S => '┐',
        m if m == E | N => '└',
        m if m == W | N => '┘',
        m if m == N | S | E => '├',
        m if m == N | S | W => '┤',
        m if m == E | W | S => '┬',
        m if m == E | W | N => '┴',
        m if m == N | E | S | W => '┼',
        _ => '─',
    }
}

/// The cells of the edge from box `c` (an input) to box `p`, with their
/// direction bits: along c's middle row to the gap before p, up or down to
/// p's middle row, then into p.
fn edge_cells(c: Rect, p: Rect) -> Vec<(u16, u16, u8)> {
    let (y0, y1) = (c.y + 1, p.y + 1);
    let xm = p.x.saturating_sub(3);
    let x0 = c.right();
    let mut cells = Vec::new();
    for x in x0..=xm {
        let mut m = W;
        if x < xm {
            m |= E;
        }
        cells.push((x, y0, m));
    }
    if y1 != y0 {
        let (top, bottom) = (y0.min(y1), y0.max(y1));
        for y in top..=bottom {
            let mut m = 0;
            if y > top {
                m |= N;
            }
            if y < bottom {
                m |= S;
            }
            cells.push((xm, y, m));
        }
    }
    for x in xm..p.x {
        let mut m = E;
        if x > xm || y1 == y0 {
            m |= W;
        }
        cells.push((x, y1, m));
    }
    cells
}

/// Draw the graph at `area`'s top-left corner. `grads`: each node's
/// gradient so far; `current`: the backward step on show.
pub fn render(
    g: &Graph,
    grads: &[Option<f64>],
    current: Option<&Step>,
    placement: &Placement,
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    let at = |r: Rect| Rect::new(area.x + r.x, area.y + r.y, r.width, r.height);
    let hot = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let mut masks: HashMap<(u16, u16), u8> = HashMap::new();
    let mut hot_cells = Vec::new();
    for (p, node) in g.nodes.iter().enumerate() {
        for &c in &node.inputs {
            let cells = edge_cells(at(placement.boxes[c]), at(placement.boxes[p]));
            let is_hot = current.is_some_and(|s| s.parent_index == p && s.node_index == c);
            for &(x, y, m) in &cells {
                *masks.entry((x, y)).or_default() |= m;
                if is_hot {
                    hot_cells.push((x, y));
                }
            }
        }
    }
    let inside_area = |x: u16, y: u16| x < area.right() && y < area.bottom();
    for (&(x, y), &m) in &masks {
        if inside_area(x, y) {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_char(line_char(m, ascii));
                cell.set_style(Style::new().fg(Color::DarkGray));
            }
        }
    }
    for &(x, y) in &hot_cells {
        if let Some(cell) = buf.cell_mut((x, y)).filter(|_| inside_area(x, y)) {
            cell.set_style(hot);
        }
    }
    // arrow heads into each box that has inputs
    for (p, node) in g.nodes.iter().enumerate() {
        if node.inputs.is_empty() {
            continue;
        }
        let b = at(placement.boxes[p]);
        let (x, y) = (b.x.saturating_sub(1), b.y + 1);
        if let Some(cell) = buf.cell_mut((x, y)).filter(|_| inside_area(x, y)) {
            cell.set_char(if ascii { '>' } else { '►' });
            let into_hot = current.is_some_and(|s| s.parent_index == p);
            cell.set_style(if into_hot {
                hot
            } else {
                Style::new().fg(Color::DarkGray)
            });
        }
    }
    for (i, r) in placement.boxes.iter().enumerate() {
        let r = at(*r).intersection(area);
        if r.height < 3 || r.width < 3 {
            continue;
        }
        let style = match current {
            Some(s) if s.node_index == i => {
                Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)
            }
            Some(s) if s.parent_index == i => hot,
            _ if grads[i].is_some() => Style::new().fg(Color::Cyan),
            _ => Style::new(),
        };
        let mut block = Block::new()
            .borders(Borders::ALL)
            .border_style(style)
            .title(title(g, i));
        if ascii {
            block = block.border_set(crate::tui::views::ascii_border());
        }
        Paragraph::new(Line::raw(inside(g, i, grads[i])))
            .block(block)
            .render(r, buf);
    }
}
