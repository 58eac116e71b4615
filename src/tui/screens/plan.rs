//! Plan: the account's checks and what the import will do to every row (new, update with each
//! change, unchanged, conflict, would fail), with what the lookups cost, before anything is sent.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};

use crate::session::check::Mode;
use crate::session::check::{
    Action as RowAction, Cost, Existing, MissingOrgs, Plan, RowPlan, StoredPlan, Tags,
};
use crate::tui::action::Action;
use crate::tui::keymap::KeyContext;
use crate::tui::strings;
use crate::tui::widgets::cursor::Cursor;
use crate::tui::widgets::{fit, theme};

/// The action filter, in the order `f` steps through it.
const FILTERS: [Option<&str>; 7] = [
    None,
    Some("new"),
    Some("update"),
    Some("unchanged"),
    Some("conflict"),
    Some("would_fail"),
    Some("invalid"),
];

/// What the account said before the lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountCheck {
    /// Custom fields the account defines.
    pub fields: usize,
    /// Mapping problems the account reveals (a key it lacks): the import cannot go on.
    pub problems: Vec<String>,
    pub ready: u64,
    pub warnings: u64,
    pub errors: u64,
    pub cost: Cost,
}

/// Where the plan is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Reading the account's field definitions and checking every row against them.
    Checking,
    /// Checked; the lookups wait for the operator (they cost requests).
    Checked(AccountCheck),
    LookingUp(AccountCheck),
    Planned(AccountCheck, Arc<StoredPlan>),
    Failed(String),
}

/// What the Plan step asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanOutcome {
    /// Look the users up.
    Build {
        existing: Existing,
        tags: Tags,
        missing_orgs: MissingOrgs,
        make_primary: bool,
    },
    /// Go on to the import, with the plan or without it.
    Import {
        plan: Option<Arc<StoredPlan>>,
        skip_unchanged: bool,
    },
}

#[derive(Debug, Clone)]
pub struct PlanState {
    pub stage: Stage,
    pub mode: Mode,
    pub skip_unchanged: bool,
    pub existing: Existing,
    pub tags: Tags,
    pub missing_orgs: MissingOrgs,
    /// A new email on an existing user becomes its primary one.
    pub make_primary: bool,
    /// What the rows are: organizations have none of the users' choices.
    pub object: crate::session::check::Object,
    filter: usize,
    /// Indexes into the plan's rows that pass the filter.
    pub shown: Vec<usize>,
    pub cursor: Cursor,
    /// The selected row's changes in full, over the list (Enter).
    pub detail: Option<Detail>,
    /// The rows read back from the plan's file lately (those shown).
    seen: Seen,
}

/// Rows of a plan read back from its file ([`StoredPlan`]) as they are shown, kept while
/// they may be shown again; a few screens' worth at most.
#[derive(Debug, Clone, Default)]
struct Seen(std::collections::HashMap<usize, RowPlan>);

impl Seen {
    const KEPT: usize = 512;

    /// Row `i` of `plan`; one that cannot be read back says so in its reason.
    fn row(&mut self, plan: &StoredPlan, i: usize) -> &RowPlan {
        if self.0.len() >= Self::KEPT && !self.0.contains_key(&i) {
            self.0.clear();
        }
        self.0.entry(i).or_insert_with(|| {
            plan.row(i).unwrap_or_else(|e| RowPlan {
                row: plan.sheet_row(i).unwrap_or_default(),
                action: RowAction::Invalid {
                    reason: format!("{}: {e}", strings::PLAN_UNREADABLE),
                },
                user: None,
                organization: None,
            })
        })
    }
}

/// The row detail's scroll position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detail {
    pub scroll: usize,
    /// The last line the scroll may start at, from the last draw.
    last: usize,
}

impl PlanState {
    /// A background answer while this screen shows: the plan, or why there is none.
    pub fn on_event(&mut self, event: crate::tui::app::AppEvent) {
        if let crate::tui::app::AppEvent::Planned(answer) = event {
            match answer {
                Ok(plan) => self.planned(Arc::new(plan)),
                Err(e) => self.stage = Stage::Failed(e),
            }
        }
    }

    pub fn new(mode: Mode) -> PlanState {
        PlanState {
            stage: Stage::Checking,
            mode,
            object: crate::session::check::Object::Users,
            skip_unchanged: true,
            existing: Existing::Fail,
            tags: Tags::Replace,
            missing_orgs: MissingOrgs::default(),
            make_primary: false,
            filter: 0,
            shown: Vec::new(),
            cursor: Cursor::default(),
            detail: None,
            seen: Seen::default(),
        }
    }

    pub fn checked(&mut self, check: AccountCheck) {
        self.stage = Stage::Checked(check);
    }

    pub fn planned(&mut self, plan: Arc<StoredPlan>) {
        let check = match &self.stage {
            Stage::Checked(c) | Stage::LookingUp(c) | Stage::Planned(c, _) => c.clone(),
            _ => return,
        };
        self.stage = Stage::Planned(check, plan);
        self.seen = Seen::default();
        self.refilter();
    }

    fn refilter(&mut self) {
        let Stage::Planned(_, plan) = &self.stage else {
            return;
        };
        let filter = FILTERS[self.filter];
        self.shown = (0..plan.len())
            .filter(|&i| filter.is_none_or(|f| plan.action_name(i) == Some(f)))
            .collect();
        self.cursor.reset();
    }

    fn blocked(&self) -> bool {
        match &self.stage {
            Stage::Checked(c) | Stage::LookingUp(c) | Stage::Planned(c, _) => {
                !c.problems.is_empty()
            }
            Stage::Checking | Stage::Failed(_) => true,
        }
    }

    /// The keys that work now: the offer to look up, the plan, or none while it works.
    pub fn key_context(&self) -> KeyContext {
        match self.stage {
            Stage::Checked(_) => KeyContext::PlanOffer,
            Stage::Planned(..) => KeyContext::Plan,
            Stage::Checking | Stage::LookingUp(_) | Stage::Failed(_) => KeyContext::PlanWaiting,
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<PlanOutcome> {
        if let Some(detail) = &mut self.detail {
            match action {
                Action::Back | Action::Enter => self.detail = None,
                Action::Left | Action::Right => {
                    let step = if *action == Action::Left {
                        Action::Up
                    } else {
                        Action::Down
                    };
                    self.cursor.navigate(&step, self.shown.len());
                    *detail = Detail::default();
                }
                action => detail.scroll(action),
            }
            return None;
        }
        if self.cursor.navigate(action, self.shown.len()) {
            return None;
        }
        match action {
            Action::Filter => {
                self.filter = (self.filter + 1) % FILTERS.len();
                self.refilter();
            }
            Action::Unchanged => self.skip_unchanged = !self.skip_unchanged,
            Action::Existing if self.mode == Mode::Create => {
                self.existing = match self.existing {
                    Existing::Fail => Existing::Update,
                    Existing::Update => Existing::Skip,
                    Existing::Skip => Existing::Fail,
                };
                if let Stage::Planned(c, _) = &self.stage {
                    // The choice changes what rows do: the plan is made again.
                    self.stage = Stage::Checked(c.clone());
                }
            }
            Action::Tags | Action::MissingOrgs => {
                if *action == Action::Tags {
                    self.tags = match self.tags {
                        Tags::Replace => Tags::Add,
                        Tags::Add => Tags::Replace,
                    };
                } else {
                    self.missing_orgs = self.missing_orgs.next();
                }
                if let Stage::Planned(c, _) = &self.stage {
                    // What is sent changes: the plan is made again.
                    self.stage = Stage::Checked(c.clone());
                }
            }
            Action::MakePrimary => {
                self.make_primary = !self.make_primary;
                if let Stage::Planned(c, _) = &self.stage {
                    // What is sent changes: the plan is made again.
                    self.stage = Stage::Checked(c.clone());
                }
            }
            Action::Enter if matches!(self.stage, Stage::Planned(..)) && !self.shown.is_empty() => {
                self.detail = Some(Detail::default());
            }
            Action::Enter if !self.blocked() && matches!(self.stage, Stage::Checked(_)) => {
                if let Stage::Checked(c) = &self.stage {
                    self.stage = Stage::LookingUp(c.clone());
                }
                return Some(PlanOutcome::Build {
                    existing: self.existing,
                    tags: self.tags,
                    missing_orgs: self.missing_orgs,
                    make_primary: self.make_primary,
                });
            }
            Action::SkipPlan if !self.blocked() && matches!(self.stage, Stage::Checked(_)) => {
                return Some(PlanOutcome::Import {
                    plan: None,
                    skip_unchanged: false,
                });
            }
            Action::Next if !self.blocked() => {
                if let Stage::Planned(_, plan) = &self.stage {
                    return Some(PlanOutcome::Import {
                        plan: Some(Arc::clone(plan)),
                        skip_unchanged: self.skip_unchanged,
                    });
                }
            }
            _ => {}
        }
        None
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        let problems = match &self.stage {
            Stage::Checked(c) | Stage::LookingUp(c) | Stage::Planned(c, _) => c.problems.len(),
            _ => 0,
        };
        let head_lines = if problems > 0 { problems + 3 } else { 2 };
        let head_height = u16::try_from(head_lines).unwrap_or(u16::MAX);
        let [head, body] =
            Layout::vertical([Constraint::Length(head_height), Constraint::Min(3)]).areas(area);
        match self.stage.clone() {
            Stage::Checking => say(
                head,
                buf,
                &format!("{}…", strings::PLAN_CHECKING),
                theme::DIM,
            ),
            Stage::Failed(e) => say(head, buf, &format!("✗ {e}"), theme::ERROR),
            Stage::Checked(c) => {
                self.render_check(&c, head, buf);
                self.render_offer(&c, body, buf);
            }
            Stage::LookingUp(c) => {
                self.render_check(&c, head, buf);
                say(
                    body,
                    buf,
                    &format!(" {}…", strings::PLAN_LOOKING),
                    theme::ACCENT,
                );
            }
            Stage::Planned(c, plan) => {
                self.render_check(&c, head, buf);
                self.render_plan(&plan, body, buf);
                self.render_detail(&plan, area, buf);
            }
        }
    }

    /// The selected row in full over the screen: who, every change old → new (the secondary
    /// email explained), the user a new row sends, and the account's warnings.
    fn render_detail(&mut self, stored: &StoredPlan, area: Rect, buf: &mut Buffer) {
        let Some(detail) = &mut self.detail else {
            return;
        };
        let Some(&i) = self.shown.get(self.cursor.selected) else {
            return;
        };
        let row = self.seen.row(stored, i);
        let plan = &stored.head;
        let rect = area;
        Clear.render(rect, buf);
        let (colour, _) = describe(&row.action, plan.object.one());
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(colour))
            .title(Span::styled(
                format!(
                    " {} {} · {} ",
                    strings::PLAN_ROW,
                    row.row,
                    row.action.name()
                ),
                Style::new().fg(colour).bold(),
            ))
            .title_bottom(
                Line::from(Span::styled(strings::PLAN_DETAIL_KEYS, theme::dim())).right_aligned(),
            );
        let inner = block.inner(rect);
        block.render(rect, buf);
        let lines = detail_lines(row, plan);
        let width = usize::from(inner.width).max(1);
        // Word wrapping can take a line more than the width alone says: count it, so the end
        // is always reachable (at worst a blank line shows under it).
        let wrapped: usize = lines
            .iter()
            .map(|l| l.width().max(1).div_ceil(width) + usize::from(l.width() > width))
            .sum();
        detail.last = wrapped.saturating_sub(usize::from(inner.height));
        detail.scroll = detail.scroll.min(detail.last);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(detail.scroll).unwrap_or(u16::MAX), 0))
            .render(inner, buf);
    }

    fn render_check(&self, c: &AccountCheck, area: Rect, buf: &mut Buffer) {
        let mut lines = vec![Line::from(vec![
            Span::styled(
                format!(" {} custom fields checked · ", c.fields),
                theme::dim(),
            ),
            Span::styled(format!("{} ready", c.ready), Style::new().fg(theme::OK)),
            Span::raw(" · "),
            Span::styled(
                format!("{} with warnings", c.warnings),
                Style::new().fg(theme::WARNING),
            ),
            Span::raw(" · "),
            Span::styled(
                format!("{} with errors", c.errors),
                Style::new().fg(theme::ERROR),
            ),
        ])];
        for p in &c.problems {
            lines.push(Line::from(Span::styled(
                format!(" ✗ {p}"),
                Style::new().fg(theme::ERROR).bold(),
            )));
        }
        if !c.problems.is_empty() {
            lines.push(Line::from(Span::styled(
                strings::PLAN_FIX_MAPPING,
                theme::dim(),
            )));
        }
        Paragraph::new(lines).render(area, buf);
    }

    fn render_offer(&self, c: &AccountCheck, area: Rect, buf: &mut Buffer) {
        if !c.problems.is_empty() {
            return;
        }
        let minutes = match (c.cost.rate_limit, c.cost.minutes) {
            (Some(rate), m) if m >= 0.1 => {
                format!(", about {m:.1} minutes at the account's {rate} requests a minute")
            }
            (Some(rate), _) => {
                format!(", under a minute at the account's {rate} requests a minute")
            }
            (None, _) => String::new(),
        };
        let looked_up = match self.object {
            crate::session::check::Object::Users => "users",
            crate::session::check::Object::Organizations => "organizations",
        };
        let mut text = vec![
            Line::from(format!(
                " The plan looks the {looked_up} up: {} requests (at most {}){minutes}.",
                c.cost.requests, c.cost.at_most
            )),
            Line::from(""),
        ];
        if self.object == crate::session::check::Object::Organizations {
            // None of the users' choices: the plan routes each row by what it finds.
            text.push(Line::from(Span::styled(
                strings::PLAN_ORGANIZATIONS_ROUTED,
                theme::dim(),
            )));
        } else {
            self.user_choices(&mut text);
        }
        text.push(Line::from(""));
        text.push(Line::from(Span::styled(
            strings::PLAN_OFFER_KEYS,
            theme::header(),
        )));
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }

    /// The users' choices the offer shows, each with its key.
    fn user_choices(&self, text: &mut Vec<Line<'_>>) {
        if self.mode == Mode::Create {
            text.push(Line::from(vec![
                Span::styled(" Users that already exist (x): ", theme::dim()),
                Span::styled(existing_text(self.existing), theme::header()),
            ]));
            text.push(Line::from(""));
        }
        text.push(Line::from(vec![
            Span::styled(" Tags of existing users (t): ", theme::dim()),
            Span::styled(tags_text(self.tags), theme::header()),
        ]));
        text.push(Line::from(vec![
            Span::styled(" Organizations the account lacks (o): ", theme::dim()),
            Span::styled(missing_orgs_text(self.missing_orgs), theme::header()),
        ]));
        text.push(Line::from(vec![
            Span::styled(" New emails of existing users (e): ", theme::dim()),
            Span::styled(primary_text(self.make_primary), theme::header()),
        ]));
    }

    fn render_plan(&mut self, stored: &StoredPlan, area: Rect, buf: &mut Buffer) {
        let plan = &stored.head;
        let [counts, options, list, detail] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(3),
        ])
        .areas(area);
        let n = stored.counts();
        let dot = |c| Span::styled(" ● ", Style::new().fg(c));
        let mut first = vec![
            dot(theme::OK),
            Span::raw(format!("{} new", n.new)),
            dot(theme::ACCENT),
            Span::raw(format!("{} update", n.update)),
            dot(theme::DIM),
            Span::raw(format!("{} unchanged", n.unchanged)),
            dot(theme::ERROR),
            Span::raw(format!("{} conflict", n.conflict)),
            dot(theme::ERROR),
            Span::raw(format!("{} would fail", n.would_fail)),
        ];
        if n.left_out > 0 {
            first.push(dot(theme::WARNING));
            first.push(Span::raw(format!("{} left out", n.left_out)));
        }
        first.push(dot(theme::WARNING));
        first.push(Span::raw(format!("{} invalid", n.invalid)));
        let orgs = if let Some(warning) = plan.warnings.first() {
            // The count first: a long warning is cut at the screen's edge.
            match plan.warnings.len() {
                1 => format!(" Warning: {warning}"),
                n => format!(" Warning 1 of {n} (`zdimport plan` lists all): {warning}"),
            }
        } else if plan.missing_organizations.is_empty() {
            String::new()
        } else {
            format!(
                " Created first ({}, {}): {}",
                plan.missing_organizations.len(),
                match crate::session::run::PlannedOrg::calls(plan.missing_organizations.len()) {
                    1 => "1 request".to_owned(),
                    n => format!("{n} requests"),
                },
                plan.missing_organizations.join(", ")
            )
        };
        let orgs = match stored.memberships() {
            0 => orgs,
            n => format!(" +{n} memberships after the users.{orgs}"),
        };
        Paragraph::new(vec![
            Line::from(first),
            Line::from(Span::styled(
                fit(&orgs, usize::from(area.width)),
                theme::dim(),
            )),
        ])
        .render(counts, buf);
        Line::from(vec![
            Span::styled(" unchanged rows (u): ", theme::dim()),
            Span::styled(
                if self.skip_unchanged {
                    "skipped"
                } else {
                    "sent"
                },
                theme::header(),
            ),
            Span::styled(
                format!(
                    "   lookups: {} requests, {} rate-limited",
                    plan.spent.requests, plan.spent.rate_limited
                ),
                theme::dim(),
            ),
        ])
        .render(options, buf);
        self.render_rows(stored, list, buf);
        if let Some(&i) = self.shown.get(self.cursor.selected) {
            let row = self.seen.row(stored, i);
            let (colour, what) = describe_row(row, plan);
            Paragraph::new(format!(" row {}: {what}", row.row))
                .style(Style::new().fg(colour))
                .wrap(Wrap { trim: false })
                .render(detail, buf);
        }
    }

    fn render_rows(&mut self, stored: &StoredPlan, area: Rect, buf: &mut Buffer) {
        let plan = &stored.head;
        let filter = FILTERS[self.filter].unwrap_or("all");
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(format!(
                "{}· {} of {} · filter: {filter} ",
                strings::PLAN_TITLE,
                self.shown.len(),
                stored.len()
            ));
        let inner = block.inner(area);
        block.render(area, buf);
        let height = usize::from(inner.height);
        let first = self.cursor.window(height);
        let width = usize::from(inner.width);
        let lines: Vec<Line<'_>> = self
            .shown
            .iter()
            .enumerate()
            .skip(first)
            .take(height)
            .map(|(n, &i)| {
                let row = self.seen.row(stored, i);
                let style = if n == self.cursor.selected {
                    theme::selected()
                } else {
                    Style::new()
                };
                let (colour, what) = describe_row(row, plan);
                Line::from(vec![
                    Span::styled(format!(" {:>6} ", row.row), style),
                    Span::styled(format!("{:<10} ", row.action.name()), style.fg(colour)),
                    Span::styled(fit(&what, width.saturating_sub(19)), style),
                ])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}

impl Detail {
    fn scroll(&mut self, action: &Action) {
        let page = 10;
        self.scroll = match action {
            Action::Up | Action::ScrollUp => self.scroll.saturating_sub(1),
            Action::Down | Action::ScrollDown => self.scroll + 1,
            Action::PageUp => self.scroll.saturating_sub(page),
            Action::PageDown => self.scroll + page,
            Action::Home => 0,
            Action::End => self.last,
            _ => self.scroll,
        };
        if self.last > 0 {
            self.scroll = self.scroll.min(self.last);
        }
    }
}

/// A row of the plan in full, for its detail.
fn detail_lines<'a>(row: &crate::session::check::RowPlan, plan: &'a Plan) -> Vec<Line<'a>> {
    let warnings = &plan.warnings;
    let mut lines = Vec::new();
    if let Some(org) = &row.organization {
        lines.push(Line::from(Span::styled(
            format!(" {}", crate::session::check::org_rows::who(org)),
            theme::header(),
        )));
        lines.push(Line::from(""));
    }
    if let Some(user) = &row.user {
        let keys = [
            user.name.clone(),
            user.email.as_ref().map(|e| format!("<{e}>")),
            user.external_id
                .as_ref()
                .map(|x| format!("external_id {x}")),
        ];
        let who: Vec<String> = keys.into_iter().flatten().collect();
        lines.push(Line::from(Span::styled(
            format!(" {}", who.join(" ")),
            theme::header(),
        )));
        lines.push(Line::from(""));
    }
    match &row.action {
        RowAction::Update { id, changes } => {
            let noun = if changes.len() == 1 {
                strings::PLAN_CHANGE
            } else {
                strings::PLAN_CHANGES
            };
            lines.push(Line::from(format!(
                " {} {id}: {} {noun}",
                plan.object.one(),
                changes.len(),
            )));
            for change in changes {
                lines.extend(change_lines(change));
            }
        }
        RowAction::New => {
            let org = row.organization.as_deref();
            let sent = match org {
                Some(_) => strings::PLAN_NEW_ORG_SENT,
                None => strings::PLAN_NEW_SENT,
            };
            lines.push(Line::from(format!(" {sent}")));
            let json = match org {
                Some(org) => serde_json::to_string_pretty(org).ok(),
                None => row
                    .user
                    .as_ref()
                    .and_then(|u| serde_json::to_string_pretty(u).ok()),
            }
            .unwrap_or_default();
            lines.extend(
                json.lines()
                    .map(|l| Line::from(format!("   {}", crate::text::printable(l)))),
            );
        }
        action => {
            let (colour, what) = describe(action, plan.object.one());
            lines.push(Line::from(Span::styled(
                format!(" {what}"),
                Style::new().fg(colour),
            )));
        }
    }
    if !warnings.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!(" {}", strings::PLAN_ACCOUNT_WARNINGS),
            theme::dim(),
        )));
        lines.extend(warnings.iter().map(|w| {
            Line::from(Span::styled(
                format!(" ⚠ {w}"),
                Style::new().fg(theme::WARNING),
            ))
        }));
    }
    lines
}

/// One change: the field, then what it holds and what it will hold, each on its own line so a
/// long value reads whole; a secondary email says what Zendesk does with it.
fn change_lines(change: &crate::session::check::Change) -> Vec<Line<'static>> {
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::Null => strings::PLAN_EMPTY.to_owned(),
        other => crate::text::printable(&other.to_string()),
    };
    let secondary = change.field == crate::session::check::SECONDARY_EMAIL;
    let (field, was, will) = if secondary {
        (
            strings::PLAN_SECONDARY,
            strings::PLAN_PRIMARY_STAYS,
            strings::PLAN_ADDED,
        )
    } else {
        (
            change.field.as_str(),
            strings::PLAN_WAS,
            strings::PLAN_WILL_BE,
        )
    };
    let mut lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            format!("   {field}"),
            Style::new().fg(theme::ACCENT).bold(),
        )),
        Line::from(vec![
            Span::styled(format!("     {was:<12}"), theme::dim()),
            Span::raw(value(&change.old)),
        ]),
        Line::from(vec![
            Span::styled(format!("     {will:<12}"), theme::dim()),
            Span::styled(value(&change.new), Style::new().bold()),
        ]),
    ];
    if secondary {
        lines.push(Line::from(Span::styled(
            format!("     {}", strings::PLAN_SECONDARY_NOTE),
            theme::dim(),
        )));
    }
    lines
}

fn say(area: Rect, buf: &mut Buffer, text: &str, colour: ratatui::style::Color) {
    Paragraph::new(text.to_owned())
        .style(Style::new().fg(colour))
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

fn primary_text(make_primary: bool) -> &'static str {
    if make_primary {
        "made primary (2 more requests each, after the import)"
    } else {
        "secondary, the primary kept (Zendesk's bulk update)"
    }
}

fn tags_text(tags: Tags) -> &'static str {
    match tags {
        Tags::Replace => "replaced by the row's (Zendesk's bulk update)",
        Tags::Add => "kept, the row's added",
    }
}

fn missing_orgs_text(policy: MissingOrgs) -> &'static str {
    match policy {
        MissingOrgs::Create => "created first, users sent with their ids",
        MissingOrgs::SkipField => "users sent without an organization",
        MissingOrgs::Fail => "their users not sent",
    }
}

fn existing_text(existing: Existing) -> &'static str {
    match existing {
        Existing::Fail => "reported as would fail (create_many refuses them)",
        Existing::Update => "updated instead (update_many by id)",
        Existing::Skip => "left out",
    }
}

/// A row's action with the user it is about.
fn describe_row(
    row: &crate::session::check::RowPlan,
    plan: &Plan,
) -> (ratatui::style::Color, String) {
    let (colour, what) = describe(&row.action, plan.object.one());
    let org = row.organization.as_deref();
    let who = row.user.as_ref().map(|u| {
        let mut who = u.name.clone().unwrap_or_default();
        if let Some(email) = &u.email {
            who.push_str(&format!(" <{email}>"));
        }
        who.trim().to_owned()
    });
    let who = who.or_else(|| org.and_then(|o| o.name.clone()));
    match who.filter(|w| !w.is_empty()) {
        Some(who) => (colour, format!("{who}: {what}")),
        None => (colour, what),
    }
}

/// A row's action in one line (`one`: `user` or `organization`).
fn describe(action: &RowAction, one: &str) -> (ratatui::style::Color, String) {
    match action {
        RowAction::New => (theme::OK, format!("a new {one}")),
        RowAction::Update { id, changes } => {
            let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
            (theme::ACCENT, format!("{one} {id}: {}", list.join("; ")))
        }
        RowAction::Unchanged { id } => {
            (theme::DIM, format!("{one} {id} already holds every value"))
        }
        RowAction::Conflict { reason, .. } | RowAction::WouldFail { reason } => {
            (theme::ERROR, reason.clone())
        }
        RowAction::LeftOut { reason, .. } | RowAction::Invalid { reason } => {
            (theme::WARNING, reason.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::check::{Change, Counts, RowPlan, Spent};

    fn check() -> AccountCheck {
        AccountCheck {
            fields: 3,
            problems: Vec::new(),
            ready: 10,
            warnings: 0,
            errors: 1,
            cost: Cost {
                requests: 1,
                at_most: 3,
                rate_limit: Some(700),
                minutes: 0.0,
            },
        }
    }

    /// `plan` with its rows in a scratch file, as the Plan step holds it.
    fn stored(plan: &Plan) -> Arc<StoredPlan> {
        Arc::new(StoredPlan::of(plan.clone(), &std::env::temp_dir()).unwrap())
    }

    fn plan() -> Arc<Plan> {
        let row = |row, action| RowPlan {
            row,
            action,
            user: None,
            organization: None,
        };
        Arc::new(Plan {
            mode: Mode::Create,
            object: crate::session::check::Object::Users,
            rows: vec![
                row(2, RowAction::New),
                row(
                    3,
                    RowAction::Update {
                        id: 7,
                        changes: vec![Change {
                            field: "name".into(),
                            old: "Ana".into(),
                            new: "Ana Silva".into(),
                        }],
                    },
                ),
                row(4, RowAction::Unchanged { id: 8 }),
            ],
            missing_organizations: vec!["Globex".into()],
            warnings: Vec::new(),
            cost: check().cost,
            spent: Spent::default(),
        })
    }

    #[test]
    fn every_hinted_key_does_something_in_every_stage() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let mut offer = PlanState::new(Mode::Upsert);
        offer.checked(check());
        let mut planned = offer.clone();
        planned.planned(stored(&plan()));
        let mut waiting = PlanState::new(Mode::Upsert);
        waiting.stage = Stage::Checking;
        for state in [offer, planned, waiting] {
            let context = state.key_context();
            let hinted = crate::tui::keymap::help(context).iter().filter(|h| h.hint);
            for keys in hinted.flat_map(|h| h.keys.split(' ')) {
                let code = match keys {
                    "Enter" => KeyCode::Enter,
                    c => KeyCode::Char(c.chars().next().unwrap()),
                };
                let action =
                    crate::tui::keymap::action(context, KeyEvent::new(code, KeyModifiers::NONE));
                let mut s = state.clone();
                let before = format!("{s:?}");
                let outcome = action.and_then(|a| s.update(&a));
                assert!(
                    outcome.is_some() || format!("{s:?}") != before,
                    "{context:?}: {keys} is hinted but does nothing"
                );
            }
        }
    }

    #[test]
    fn lookups_wait_for_the_operator_then_the_plan_is_browsed() {
        let mut s = PlanState::new(Mode::Create);
        assert_eq!(
            s.update(&Action::Enter),
            None,
            "nothing before the account is checked"
        );
        s.checked(check());
        s.update(&Action::Existing);
        s.update(&Action::Tags);
        s.update(&Action::MissingOrgs);
        s.update(&Action::MissingOrgs);
        s.update(&Action::MakePrimary);
        assert_eq!(
            s.update(&Action::Enter),
            Some(PlanOutcome::Build {
                existing: Existing::Update,
                tags: Tags::Add,
                missing_orgs: MissingOrgs::Fail,
                make_primary: true,
            })
        );
        s.planned(stored(&plan()));
        assert_eq!(
            plan().counts(),
            Counts {
                new: 1,
                update: 1,
                unchanged: 1,
                total: 3,
                ..Counts::default()
            }
        );
        s.update(&Action::Filter);
        s.update(&Action::Filter);
        assert_eq!(s.shown, vec![1]);
        s.update(&Action::Unchanged);
        let Some(PlanOutcome::Import {
            plan,
            skip_unchanged,
        }) = s.update(&Action::Next)
        else {
            panic!("import")
        };
        assert!(plan.is_some() && !skip_unchanged);
    }

    #[test]
    fn a_field_the_account_lacks_blocks_the_import() {
        let mut s = PlanState::new(Mode::Upsert);
        let mut c = check();
        c.problems
            .push("user_fields.plann: the account has no such field".into());
        s.checked(c);
        assert_eq!(s.update(&Action::Enter), None);
        assert_eq!(s.update(&Action::SkipPlan), None);
    }

    #[test]
    fn the_plan_can_be_skipped() {
        let mut s = PlanState::new(Mode::Upsert);
        s.checked(check());
        assert_eq!(
            s.update(&Action::SkipPlan),
            Some(PlanOutcome::Import {
                plan: None,
                skip_unchanged: false
            })
        );
    }

    fn detailed_plan() -> Arc<Plan> {
        let user = |name: &str, email: &str| {
            Some(Box::new(crate::session::check::User {
                name: Some(name.into()),
                email: Some(email.into()),
                external_id: Some("10001".into()),
                ..crate::session::check::User::default()
            }))
        };
        let change = |field: &str, old: serde_json::Value, new: serde_json::Value| Change {
            field: field.into(),
            old,
            new,
        };
        let long = "Migrated from the old helpdesk in 2019; key account, escalate billing \
                    questions to the account manager before answering";
        Arc::new(Plan {
            mode: Mode::Upsert,
            object: crate::session::check::Object::Users,
            rows: vec![
                RowPlan {
                    row: 5,
                    action: RowAction::Update {
                        id: 360_000_000_008,
                        changes: vec![
                            change("name", "Bruno Old".into(), "山田 Bruno 🎉".into()),
                            change(
                                crate::session::check::SECONDARY_EMAIL,
                                "bruno@old.example".into(),
                                "bruno.silva@example.com".into(),
                            ),
                            change("notes", serde_json::Value::Null, long.into()),
                            change("user_fields.plan", "silver".into(), "gold".into()),
                            change(
                                "tags",
                                serde_json::json!(["a"]),
                                serde_json::json!(["a", "vip"]),
                            ),
                        ],
                    },
                    user: user("Bruno Silva", "bruno.silva@example.com"),
                    organization: None,
                },
                RowPlan {
                    row: 6,
                    action: RowAction::New,
                    user: user("Chloé Silva", "chloe@example.com"),
                    organization: None,
                },
            ],
            missing_organizations: Vec::new(),
            warnings: vec!["user tagging is off in the account: Zendesk ignores tags".into()],
            cost: check().cost,
            spent: Spent::default(),
        })
    }

    #[test]
    fn enter_shows_a_rows_changes_in_full_with_scrolling_80x24() {
        let mut s = PlanState::new(Mode::Upsert);
        s.checked(check());
        s.planned(stored(&detailed_plan()));
        assert_eq!(s.update(&Action::Enter), None);
        assert!(s.detail.is_some());
        let draw =
            |s: &mut PlanState| crate::tui::widgets::drawn(80, 22, |area, buf| s.render(area, buf));
        insta::assert_snapshot!("plan_detail_80x24", draw(&mut s).backend());
        s.update(&Action::End);
        let end = draw(&mut s);
        insta::assert_snapshot!("plan_detail_scrolled_80x24", end.backend());
        assert!(format!("{:?}", end.backend()).contains("user tagging is off"));
        s.update(&Action::Right);
        insta::assert_snapshot!("plan_detail_new_row_80x24", draw(&mut s).backend());
        s.update(&Action::Back);
        assert!(s.detail.is_none());
        assert_eq!(s.cursor.selected, 1, "the row last shown stays selected");
    }

    /// Several organizations per user: the memberships the import adds are counted on the
    /// second line, before the organizations created first.
    #[test]
    fn the_memberships_to_add_are_counted_80x24() {
        let member = |name: &str| crate::session::check::MemberOf {
            name: name.into(),
            id: Some(9),
        };
        let mut plan = (*plan()).clone();
        plan.rows[0].user = Some(Box::new(crate::session::check::User {
            memberships: vec![member("Globex"), member("Initech")],
            ..crate::session::check::User::default()
        }));
        let mut s = PlanState::new(Mode::Upsert);
        s.checked(check());
        s.planned(stored(&plan));
        let drawn = crate::tui::widgets::drawn(80, 22, |area, buf| s.render(area, buf));
        assert!(format!("{:?}", drawn.backend()).contains("+2 memberships after the users."));
        insta::assert_snapshot!("plan_memberships_80x24", drawn.backend());
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    /// Skipping the lookups after choosing what happens to missing organizations: the import
    /// does what the screen said, not the default.
    #[test]
    fn the_organizations_choice_reaches_an_import_without_lookups() {
        let mut app = connect_app();
        let report = app.session.report.clone().expect("checked");
        app.history.push(std::mem::replace(
            &mut app.screen,
            Screen::Plan(screens::plan::PlanState::new(
                crate::session::check::Mode::Upsert,
            )),
        ));
        if let Screen::Plan(state) = &mut app.screen {
            state.checked(screens::plan::AccountCheck {
                fields: 0,
                problems: Vec::new(),
                ready: report.ready,
                warnings: report.warnings,
                errors: report.errors,
                cost: crate::session::check::Cost {
                    requests: 1,
                    at_most: 1,
                    rate_limit: None,
                    minutes: 0.0,
                },
            });
        }
        app.update(Action::MissingOrgs);
        let Screen::Plan(state) = &app.screen else {
            panic!("still on Plan");
        };
        let chosen = state.missing_orgs;
        assert_ne!(chosen, crate::session::check::MissingOrgs::default());
        app.update(Action::SkipPlan);
        let Some(Command::StartImport(run)) = app.update(Action::Yes) else {
            panic!("the import starts once confirmed");
        };
        assert!(run.plan.is_none());
        assert_eq!(run.missing_orgs, chosen);
    }

    #[test]
    fn plan_screen() {
        use crate::session::check::{Action as RowAction, Change, Cost, Plan, RowPlan, Spent};
        let mut app = connect_app();
        app.history.push(std::mem::replace(
            &mut app.screen,
            Screen::Plan(screens::plan::PlanState::new(
                crate::session::check::Mode::Upsert,
            )),
        ));
        insta::assert_snapshot!("plan_checking_80x24", frame(&mut app, 80, 24).backend());
        let cost = Cost {
            requests: 1,
            at_most: 12,
            rate_limit: Some(700),
            minutes: 0.0,
        };
        let check = screens::plan::AccountCheck {
            fields: 2,
            problems: Vec::new(),
            ready: 11,
            warnings: 0,
            errors: 1,
            cost,
        };
        if let Screen::Plan(state) = &mut app.screen {
            state.checked(check);
        }
        insta::assert_snapshot!("plan_cost", frame(&mut app, 100, 30).backend());
        let row = |row, action| RowPlan {
            row,
            action,
            user: None,
            organization: None,
        };
        let plan = Plan {
            mode: crate::session::check::Mode::Upsert,
            object: crate::session::check::Object::Users,
            rows: vec![
                row(4, RowAction::New),
                row(
                    5,
                    RowAction::Update {
                        id: 360_000_000_105,
                        changes: vec![
                            Change {
                                field: "name".into(),
                                old: "Person One".into(),
                                new: "Person 1".into(),
                            },
                            Change {
                                field: "user_fields.plan".into(),
                                old: "silver".into(),
                                new: "gold".into(),
                            },
                        ],
                    },
                ),
                row(
                    6,
                    RowAction::Unchanged {
                        id: 360_000_000_106,
                    },
                ),
                row(
                    7,
                    RowAction::Invalid {
                        reason: "'person3(at)example.com' is not a valid email address".into(),
                    },
                ),
                row(
                    8,
                    RowAction::Conflict {
                        external_id_user: 1,
                        email_user: 2,
                        reason: "external_id 10004 is user 1, email person4@example.com is user 2"
                            .into(),
                    },
                ),
            ],
            missing_organizations: vec!["Globex".into()],
            warnings: Vec::new(),
            cost,
            spent: Spent {
                requests: 2,
                rate_limited: 0,
            },
        };
        let plan = crate::session::check::StoredPlan::of(plan, &std::env::temp_dir());
        app.handle(AppEvent::Planned(Ok(plan.unwrap())));
        insta::assert_snapshot!("plan_rows", frame(&mut app, 100, 30).backend());
        insta::assert_snapshot!("plan_rows_80x24", frame(&mut app, 80, 24).backend());
    }

    #[test]
    fn plan_screen_of_organizations() {
        use crate::session::check::Organization;
        use crate::session::check::{Action as RowAction, Change, Cost, Plan, RowPlan, Spent};
        let mut app = connect_app();
        app.session.mapping.object = crate::session::check::Object::Organizations;
        let mut state = screens::plan::PlanState::new(crate::session::check::Mode::Upsert);
        state.object = crate::session::check::Object::Organizations;
        app.history
            .push(std::mem::replace(&mut app.screen, Screen::Plan(state)));
        let cost = Cost {
            requests: 1,
            at_most: 4,
            rate_limit: Some(700),
            minutes: 0.0,
        };
        let check = screens::plan::AccountCheck {
            fields: 2,
            problems: Vec::new(),
            ready: 3,
            warnings: 0,
            errors: 0,
            cost,
        };
        if let Screen::Plan(state) = &mut app.screen {
            state.checked(check);
        }
        insta::assert_snapshot!(
            "plan_organizations_offer_80x24",
            frame(&mut app, 80, 24).backend()
        );
        let org = |name: &str, external_id: &str| Organization {
            name: Some(name.into()),
            external_id: Some(external_id.into()),
            domain_names: Some(vec![format!("{}.example", name.to_lowercase())]),
            ..Organization::default()
        };
        let row = |row, action, org| RowPlan {
            row,
            action,
            user: None,
            organization: Some(Box::new(org)),
        };
        let plan = Plan {
            mode: crate::session::check::Mode::Upsert,
            object: crate::session::check::Object::Organizations,
            rows: vec![
                row(
                    2,
                    RowAction::Update {
                        id: 360_000_000_003,
                        changes: vec![Change {
                            field: "organization_fields.tier".into(),
                            old: "silver".into(),
                            new: "gold".into(),
                        }],
                    },
                    org("Acme", "ORG-1"),
                ),
                row(3, RowAction::New, org("Globex", "ORG-2")),
                row(
                    4,
                    RowAction::Unchanged {
                        id: 360_000_000_005,
                    },
                    org("Initech", "ORG-3"),
                ),
            ],
            missing_organizations: Vec::new(),
            warnings: Vec::new(),
            cost,
            spent: Spent {
                requests: 2,
                rate_limited: 0,
            },
        };
        let plan = crate::session::check::StoredPlan::of(plan, &std::env::temp_dir());
        app.handle(AppEvent::Planned(Ok(plan.unwrap())));
        insta::assert_snapshot!(
            "plan_organizations_80x24",
            frame(&mut app, 80, 24).backend()
        );
    }
}
