//! A playbook's workflow drawn as an SVG picture, for web pages.
//!
//! Layered layout (after Sugiyama): back edges (loops) are set aside, each step
//! goes on the layer after its deepest predecessor (start at the top), edges
//! spanning several layers pass through invisible waypoints, and a few
//! barycentre sweeps order each layer to reduce crossings. Loops are drawn as
//! curves along the right-hand side. Every edge carries the property it comes
//! from (`on_success`, a switch case, …) and each step type has its own shape
//! and colour. Text is escaped (the picture is embedded in HTML), the output
//! depends only on the playbook, and playbooks too large to read as a picture
//! get a small SVG saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{Playbook, StepType, WorkflowStep};

/// Most steps drawn; a larger workflow gets a "too large to draw" picture.
pub const MAX_STEPS: usize = 500;
/// Most layout slots (steps plus edge waypoints).
const MAX_SLOTS: usize = 20_000;

const NODE_W: i64 = 180;
const NODE_H: i64 = 52;
const H_GAP: i64 = 40;
const V_GAP: i64 = 56;
const MARGIN: i64 = 24;
const WAYPOINT_W: i64 = 24;
/// Characters of a step name shown on its node (the whole name is in its tooltip).
const LABEL_CHARS: usize = 24;

struct Edge {
    from: usize,
    to: usize,
    label: String,
    kind: EdgeKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    Flow,
    Failure,
    Branch,
}

/// One slot of a layer: a step, or a waypoint of a long edge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Step(usize),
    Waypoint,
}

/// The workflow of `playbook` as a standalone SVG document.
#[must_use]
pub fn to_svg(playbook: &Playbook) -> String {
    if playbook.workflow.len() > MAX_STEPS {
        return too_large(&format!(
            "This workflow has {} steps: too large to draw (the limit is {MAX_STEPS}).",
            playbook.workflow.len()
        ));
    }
    let ids: Vec<&str> = playbook.workflow.keys().map(String::as_str).collect();
    let index: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let steps: Vec<&WorkflowStep> = playbook.workflow.values().collect();
    let edges = edges_of(&steps, &index);
    let start = index.get(playbook.workflow_start.as_str()).copied();
    let (order, back) = depth_first(ids.len(), &edges, start);
    let layer = layers(ids.len(), &edges, &back, &order);
    let Some(mut layout) = Layout::build(&layer, &edges, &back, &order) else {
        return too_large("This workflow has too many long edges to draw.");
    };
    layout.reduce_crossings();
    render(playbook, &ids, &steps, &edges, &back, &layout)
}

fn too_large(message: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"workflow-graph too-large\" width=\"640\" height=\"60\" \
         viewBox=\"0 0 640 60\" role=\"img\"><text x=\"16\" y=\"35\" font-family=\"sans-serif\" font-size=\"14\" \
         fill=\"#333\">{}</text></svg>\n",
        escape(message)
    )
}

fn edges_of(steps: &[&WorkflowStep], index: &BTreeMap<&str, usize>) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (from, step) in steps.iter().enumerate() {
        let mut push = |target: &str, label: String, kind: EdgeKind| {
            // A reference to a missing step is validation's to report; it is not drawn.
            if let Some(&to) = index.get(target) {
                edges.push(Edge { from, to, label, kind });
            }
        };
        let c = step.common();
        if let Some(t) = &c.on_completion {
            push(t, String::new(), EdgeKind::Flow);
        }
        if let Some(t) = &c.on_success {
            push(t, "success".into(), EdgeKind::Flow);
        }
        if let Some(t) = &c.on_failure {
            push(t, "failure".into(), EdgeKind::Failure);
        }
        match step {
            WorkflowStep::IfCondition(s) => {
                push(&s.on_true, "true".into(), EdgeKind::Branch);
                if let Some(f) = &s.on_false {
                    push(f, "false".into(), EdgeKind::Failure);
                }
            }
            WorkflowStep::WhileCondition(s) => push(&s.on_true, "loop".into(), EdgeKind::Branch),
            WorkflowStep::SwitchCondition(s) => {
                for (case, t) in &s.cases {
                    push(t, case.clone(), EdgeKind::Branch);
                }
            }
            WorkflowStep::Parallel(s) => {
                for (i, t) in s.next_steps.iter().enumerate() {
                    push(t, format!("branch {}", i + 1), EdgeKind::Branch);
                }
            }
            _ => {}
        }
    }
    edges
}

/// Visits from `start`, then from every unvisited step in id order. Returns the
/// discovery order and the set of back edges (edge indices closing a cycle).
fn depth_first(n: usize, edges: &[Edge], start: Option<usize>) -> (Vec<usize>, BTreeSet<usize>) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        out[e.from].push(i);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; n];
    let mut order = Vec::with_capacity(n);
    let mut back = BTreeSet::new();
    let roots = start.into_iter().chain(0..n);
    for root in roots {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative: a deep workflow must not overflow the stack.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Open;
        order.push(root);
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            if let Some(&edge) = out[node].get(top.1) {
                top.1 += 1;
                let to = edges[edge].to;
                match mark[to] {
                    Mark::New => {
                        mark[to] = Mark::Open;
                        order.push(to);
                        stack.push((to, 0));
                    }
                    Mark::Open => {
                        back.insert(edge);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    (order, back)
}

/// Longest-path layering over the forward edges, in topological order.
fn layers(n: usize, edges: &[Edge], back: &BTreeSet<usize>, order: &[usize]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        if !back.contains(&i) && e.from != e.to {
            indegree[e.to] += 1;
            out[e.from].push(e.to);
        }
    }
    let mut layer = vec![0usize; n];
    // Kahn's algorithm, seeded in discovery order so the result is stable.
    let mut ready: Vec<usize> = order.iter().rev().copied().filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = ready.pop() {
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    layer
}

/// Layers of slots, and for every forward edge the slots it passes through.
struct Layout {
    rows: Vec<Vec<Slot>>,
    /// Edge index → the waypoints (row, slot id) between its ends.
    paths: BTreeMap<usize, Vec<(usize, usize)>>,
    /// Step → (row, slot id).
    place: BTreeMap<usize, (usize, usize)>,
    /// Per row, slot ids in drawing order.
    order: Vec<Vec<usize>>,
    /// Adjacent-layer links between slot ids: (row, id) → (row + 1, id).
    links: Vec<((usize, usize), (usize, usize))>,
}

impl Layout {
    fn build(layer: &[usize], edges: &[Edge], back: &BTreeSet<usize>, order: &[usize]) -> Option<Self> {
        let depth = layer.iter().max().map_or(1, |m| m + 1);
        let mut rows: Vec<Vec<Slot>> = vec![Vec::new(); depth];
        let mut place = BTreeMap::new();
        for &v in order {
            place.insert(v, (layer[v], rows[layer[v]].len()));
            rows[layer[v]].push(Slot::Step(v));
        }
        let mut slots = order.len();
        let mut paths = BTreeMap::new();
        let mut links = Vec::new();
        for (i, e) in edges.iter().enumerate() {
            if back.contains(&i) || e.from == e.to {
                continue;
            }
            let (a, b) = (place[&e.from], place[&e.to]);
            let mut prev = a;
            let mut way = Vec::new();
            for (row, in_row) in rows.iter_mut().enumerate().take(b.0).skip(a.0 + 1) {
                slots += 1;
                if slots > MAX_SLOTS {
                    return None;
                }
                let here = (row, in_row.len());
                in_row.push(Slot::Waypoint);
                links.push((prev, here));
                way.push(here);
                prev = here;
            }
            links.push((prev, b));
            paths.insert(i, way);
        }
        let order = rows.iter().map(|r| (0..r.len()).collect()).collect();
        Some(Self { rows, paths, place, order, links })
    }

    /// Barycentre sweeps, down then up, a fixed number of times.
    fn reduce_crossings(&mut self) {
        let mut up: BTreeMap<(usize, usize), Vec<(usize, usize)>> = BTreeMap::new();
        let mut down: BTreeMap<(usize, usize), Vec<(usize, usize)>> = BTreeMap::new();
        for &(a, b) in &self.links {
            up.entry(b).or_default().push(a);
            down.entry(a).or_default().push(b);
        }
        for _ in 0..4 {
            for row in 1..self.rows.len() {
                self.sort_row(row, &up);
            }
            for row in (0..self.rows.len().saturating_sub(1)).rev() {
                self.sort_row(row, &down);
            }
        }
    }

    fn position(&self, (row, id): (usize, usize)) -> usize {
        self.order[row].iter().position(|&s| s == id).unwrap_or(0)
    }

    fn sort_row(&mut self, row: usize, neighbours: &BTreeMap<(usize, usize), Vec<(usize, usize)>>) {
        let current: Vec<usize> = self.order[row].clone();
        let mut keyed: Vec<(f64, usize, usize)> = current
            .iter()
            .enumerate()
            .map(|(pos, &id)| {
                let ns = neighbours.get(&(row, id)).map(Vec::as_slice).unwrap_or_default();
                #[allow(clippy::cast_precision_loss)]
                let key = if ns.is_empty() {
                    pos as f64
                } else {
                    ns.iter().map(|&n| self.position(n) as f64).sum::<f64>() / ns.len() as f64
                };
                (key, pos, id)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.order[row] = keyed.into_iter().map(|(_, _, id)| id).collect();
    }

    /// Centre x of slot `(row, id)` and its width.
    fn x(&self, (row, id): (usize, usize), width: i64) -> i64 {
        let widths: Vec<i64> = self.order[row].iter().map(|&s| slot_width(self.rows[row][s])).collect();
        let row_w: i64 = widths.iter().sum::<i64>() + H_GAP * (i64::try_from(widths.len()).unwrap_or(0) - 1).max(0);
        let mut x = MARGIN + (width - 2 * MARGIN - row_w) / 2;
        for (i, &s) in self.order[row].iter().enumerate() {
            if s == id {
                return x + widths[i] / 2;
            }
            x += widths[i] + H_GAP;
        }
        x
    }

    fn width(&self) -> i64 {
        let widest = self
            .rows
            .iter()
            .map(|r| {
                r.iter().map(|s| slot_width(*s)).sum::<i64>() + H_GAP * (i64::try_from(r.len()).unwrap_or(0) - 1).max(0)
            })
            .max()
            .unwrap_or(NODE_W);
        // Room on the right for loop curves.
        widest + 2 * MARGIN + 60
    }
}

fn slot_width(slot: Slot) -> i64 {
    match slot {
        Slot::Step(_) => NODE_W,
        Slot::Waypoint => WAYPOINT_W,
    }
}

fn y(row: usize) -> i64 {
    MARGIN + i64::try_from(row).unwrap_or(0) * (NODE_H + V_GAP) + NODE_H / 2
}

/// Fill and stroke colours of a step type.
fn colours(t: StepType) -> (&'static str, &'static str) {
    match t {
        StepType::Start => ("#d9f2d9", "#2e7d32"),
        StepType::End => ("#f9d6d5", "#c62828"),
        StepType::Action => ("#dbe9f9", "#1f5fa8"),
        StepType::PlaybookAction => ("#e9ddf7", "#6a3fa0"),
        StepType::Parallel => ("#fde8cc", "#c66a00"),
        StepType::IfCondition => ("#fff6c7", "#a08400"),
        StepType::WhileCondition => ("#d6f3f1", "#00796b"),
        StepType::SwitchCondition => ("#f7e0ec", "#ad1457"),
    }
}

/// Half the drawn height of a step's shape (conditions are taller diamonds).
fn half_height(t: StepType) -> i64 {
    if t.is_conditional() { NODE_H / 2 + 6 } else { NODE_H / 2 }
}

fn shape(out: &mut String, t: StepType, cx: i64, cy: i64) {
    let (fill, stroke) = colours(t);
    let (w, h) = (NODE_W / 2, NODE_H / 2);
    let style = format!("fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\"");
    let _ = match t {
        StepType::Start | StepType::End => writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"{h}\" {style}/>",
            cx - w,
            cy - h
        ),
        StepType::Action => writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" {style}/>",
            cx - w,
            cy - h
        ),
        StepType::PlaybookAction => writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"2\" {style}/>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\" fill=\"none\" stroke=\"{stroke}\"/>",
            cx - w,
            cy - h,
            cx - w + 4,
            cy - h + 4,
            NODE_W - 8,
            NODE_H - 8
        ),
        StepType::Parallel => writeln!(
            out,
            "<polygon points=\"{},{} {},{} {},{} {},{} {},{} {},{}\" {style}/>",
            cx - w + 14,
            cy - h,
            cx + w - 14,
            cy - h,
            cx + w,
            cy,
            cx + w - 14,
            cy + h,
            cx - w + 14,
            cy + h,
            cx - w,
            cy
        ),
        StepType::IfCondition | StepType::WhileCondition | StepType::SwitchCondition => writeln!(
            out,
            "<polygon points=\"{cx},{} {},{cy} {cx},{} {},{cy}\" {style}/>",
            cy - h - 6,
            cx + w,
            cy + h + 6,
            cx - w
        ),
    };
}

fn short(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

fn render(
    playbook: &Playbook,
    ids: &[&str],
    steps: &[&WorkflowStep],
    edges: &[Edge],
    back: &BTreeSet<usize>,
    layout: &Layout,
) -> String {
    let width = layout.width();
    let height = y(layout.rows.len().saturating_sub(1)) + NODE_H / 2 + MARGIN + 8;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"workflow-graph\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Workflow of {}\" font-family=\"sans-serif\">",
        escape(&playbook.name)
    );
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
    );
    let centre = |v: usize| {
        let p = layout.place[&v];
        (layout.x(p, width), y(p.0))
    };
    let _ = writeln!(out, "<g class=\"edges\" fill=\"none\" stroke-width=\"1.5\">");
    for (i, e) in edges.iter().enumerate() {
        let (colour, dash) = match e.kind {
            EdgeKind::Flow => ("#555", ""),
            EdgeKind::Failure => ("#c62828", " stroke-dasharray=\"5,3\""),
            EdgeKind::Branch => ("#1f5fa8", ""),
        };
        let (fx, fy) = centre(e.from);
        let (tx, ty) = centre(e.to);
        let (from_h, to_h) = (half_height(steps[e.from].step_type()), half_height(steps[e.to].step_type()));
        let (d, label_at) = if back.contains(&i) || e.from == e.to {
            // A loop: out of the right side, around, into the right side of the earlier step.
            let (sx, ex) = (fx + NODE_W / 2, tx + NODE_W / 2);
            let bulge = sx.max(ex) + 40;
            (format!("M{sx},{fy} C{bulge},{fy} {bulge},{ty} {ex},{ty}"), (bulge - 4, (fy + ty) / 2))
        } else {
            let mut d = format!("M{fx},{}", fy + from_h);
            let way = layout.paths.get(&i).map(Vec::as_slice).unwrap_or_default();
            for &p in way {
                let _ = write!(d, " L{},{}", layout.x(p, width), y(p.0));
            }
            let _ = write!(d, " L{tx},{}", ty - to_h);
            // The label sits a third of the way along the first segment, so the
            // labels of a fan of edges spread out with their edges.
            let next = way.first().map_or((tx, ty - to_h), |&p| (layout.x(p, width), y(p.0)));
            let (sx, sy) = (fx, fy + from_h);
            (d, (sx + (next.0 - sx) / 3 + 4, sy + (next.1 - sy) / 3 + 4))
        };
        let _ = writeln!(
            out,
            "<path class=\"edge\" d=\"{d}\" stroke=\"{colour}\"{dash} marker-end=\"url(#arrow)\"><title>{} → {}{}</title></path>",
            escape(ids[e.from]),
            escape(ids[e.to]),
            if e.label.is_empty() { String::new() } else { format!(" ({})", escape(&e.label)) }
        );
        if !e.label.is_empty() {
            let _ = writeln!(
                out,
                "<text class=\"edge-label\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
                label_at.0,
                label_at.1,
                escape(&short(&e.label))
            );
        }
    }
    out.push_str("</g>\n<g class=\"steps\">\n");
    for (v, step) in steps.iter().enumerate() {
        let t = step.step_type();
        let (cx, cy) = centre(v);
        let name = step.common().name.as_deref().unwrap_or(t.as_str());
        let mut tip = format!("{name} ({})", ids[v]);
        if playbook.workflow_exception.as_deref() == Some(ids[v]) {
            tip.push_str(" — workflow exception handler");
        }
        let _ = writeln!(
            out,
            "<g class=\"step step-{}\" data-step=\"{}\"><title>{}</title>",
            t.as_str(),
            escape(ids[v]),
            escape(&tip)
        );
        shape(&mut out, t, cx, cy);
        let _ = writeln!(
            out,
            "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">{}</text>\
             <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">{}</text></g>",
            cy - 2,
            escape(&short(name)),
            cy + 13,
            t.as_str()
        );
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// Text and attribute values safe inside SVG embedded in HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
