//! Map: one line per source column with samples, target and why; pickers and transforms.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Cell as TableCell, Clear, Row as TableRow, StatefulWidget, Table,
    TableState, Widget,
};

use super::transform::{TransformEditor, TransformOutcome};
use crate::session::check::Mode;
use crate::session::check::{Mapping, MatchReason, Object, Target, auto_match_for};
use crate::session::profiles::{Fit, Profile};
use crate::session::source::Table as SheetTable;
use crate::session::source::column_letter;
use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::picker::{Choice, Picked, Picker};
use crate::tui::widgets::{centered, fit, theme};

/// Sample values shown per column.
const SAMPLES: usize = 3;

/// A saved profile that fits the sheet, offered before the automatic matching is used.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub profile: Profile,
    pub fit: Fit,
}

impl Offer {
    fn matched(&self) -> usize {
        self.profile.columns.len() - self.fit.missing.len()
    }
}

/// What has the keys on the Map screen, besides the column list.
#[derive(Debug, Clone)]
pub enum MapPopup {
    Target(Picker<Pick>),
    Custom(TextInput),
    Transform(Box<TransformEditor>),
    SaveAs(TextInput),
    Load(Picker<usize>),
    Offer(Box<Offer>),
}

/// A choice of the target picker.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    Target(Option<Target>),
    /// Type a custom field key.
    Custom,
}

/// What the Map step asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum MapOutcome {
    /// Go on to Check.
    Next,
    /// Save the mapping as a profile under this name.
    Save(String),
    /// Use this saved profile (index into `saved`).
    Load(usize),
    /// Use the offered profile.
    AcceptOffer(Box<Profile>),
}

/// A status line under the table: what happened last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Error(String),
}

#[derive(Debug, Clone, Default)]
pub struct MapState {
    /// Sample values per table column.
    pub samples: Vec<Vec<String>>,
    pub table: TableState,
    pub popup: Option<MapPopup>,
    /// Saved profiles by name, for `p`.
    pub saved: Vec<Profile>,
    /// The profile the mapping came from or was saved as.
    pub profile_name: Option<String>,
    pub notice: Option<Notice>,
    /// The sheet column of the table's first column (0 = A): a table that starts in column B
    /// shows B, C, … as the sheet does.
    pub first_column: usize,
}

impl MapState {
    pub fn new(table: &SheetTable) -> MapState {
        let samples = (0..table.layout.headers.len())
            .map(|c| table.samples(c, SAMPLES))
            .collect();
        let mut state = TableState::default();
        state.select(Some(0));
        MapState {
            samples,
            table: state,
            first_column: table.layout.first_column as usize,
            ..MapState::default()
        }
    }

    /// Whether a popup with a text field has the keys.
    pub fn is_typing(&self) -> bool {
        matches!(
            self.popup,
            Some(
                MapPopup::Target(_)
                    | MapPopup::Custom(_)
                    | MapPopup::Transform(_)
                    | MapPopup::SaveAs(_)
                    | MapPopup::Load(_)
            )
        )
    }

    pub fn selected(&self) -> usize {
        self.table.selected().unwrap_or(0)
    }

    pub fn update(
        &mut self,
        action: &Action,
        mapping: &mut Mapping,
        mode: &mut Mode,
    ) -> Option<MapOutcome> {
        if let Some(popup) = self.popup.take() {
            return self.update_popup(popup, action, mapping);
        }
        let last = mapping.columns.len().saturating_sub(1);
        let at = self.selected();
        match action {
            Action::Up | Action::ScrollUp => self.table.select(Some(at.saturating_sub(1))),
            Action::Down | Action::ScrollDown => self.table.select(Some((at + 1).min(last))),
            Action::PageUp => self.table.select(Some(at.saturating_sub(10))),
            Action::PageDown => self.table.select(Some((at + 10).min(last))),
            Action::Home => self.table.select(Some(0)),
            Action::End => self.table.select(Some(last)),
            Action::Enter | Action::PickTarget => self.open_picker(mapping),
            Action::CustomField => self.open_custom(mapping),
            Action::Transform => {
                if let Some(column) = mapping.columns.get(at) {
                    self.popup = Some(MapPopup::Transform(Box::new(TransformEditor::new(
                        column.header.clone(),
                        column.transform.clone(),
                    ))));
                }
            }
            Action::Ignore => {
                mapping.set(at, None);
                self.notice = None;
            }
            Action::Mode => {
                let next = Mode::ALL
                    .iter()
                    .position(|m| m == mode)
                    .map_or(0, |i| (i + 1) % Mode::ALL.len());
                *mode = Mode::ALL[next];
            }
            Action::Object => {
                // Another object's targets: the columns are matched again for them.
                let object = mapping.object.next();
                let headers: Vec<String> =
                    mapping.columns.iter().map(|c| c.header.clone()).collect();
                *mapping = auto_match_for(object, &headers, &[]);
                self.notice = Some(Notice::Info(format!(
                    "Rows are {object}: {}",
                    strings::MAP_OBJECT_SWITCHED
                )));
            }
            Action::SaveProfile => {
                let name = self.profile_name.clone().unwrap_or_default();
                self.popup = Some(MapPopup::SaveAs(TextInput::new(&name)));
            }
            Action::LoadProfile if self.saved.is_empty() => {
                self.notice = Some(Notice::Info(strings::MAP_NO_PROFILES.to_owned()));
            }
            Action::LoadProfile => {
                let choices = self
                    .saved
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Choice {
                        label: p.name.clone(),
                        note: format!("{} · {} columns", p.mode, p.columns.len()),
                        value: i,
                    })
                    .collect();
                self.popup = Some(MapPopup::Load(Picker::new(
                    strings::MAP_LOAD_TITLE,
                    choices,
                )));
            }
            Action::Next => return Some(MapOutcome::Next),
            _ => {}
        }
        None
    }

    fn update_popup(
        &mut self,
        popup: MapPopup,
        action: &Action,
        mapping: &mut Mapping,
    ) -> Option<MapOutcome> {
        let at = self.selected();
        match popup {
            MapPopup::Target(mut picker) => match picker.update(action) {
                Some(Picked::Chosen(Pick::Target(target))) => mapping.set(at, target),
                Some(Picked::Chosen(Pick::Custom)) => self.open_custom(mapping),
                Some(Picked::Cancelled) => {}
                None => self.popup = Some(MapPopup::Target(picker)),
            },
            MapPopup::Custom(mut input) => match action {
                Action::Back => {}
                Action::Enter => {
                    let text = format!("{}{}", custom_prefix(mapping.object), input.text.trim());
                    match text.parse::<Target>() {
                        Ok(target) => mapping.set(at, Some(target)),
                        Err(e) => {
                            self.notice = Some(Notice::Error(e.to_string()));
                            self.popup = Some(MapPopup::Custom(input));
                        }
                    }
                }
                action => {
                    input.handle(action);
                    self.popup = Some(MapPopup::Custom(input));
                }
            },
            MapPopup::Transform(mut editor) => match editor.update(action) {
                Some(TransformOutcome::Apply(transform)) => {
                    if let Some(column) = mapping.columns.get_mut(at) {
                        column.transform = transform;
                    }
                }
                Some(TransformOutcome::Cancel) => {}
                None => self.popup = Some(MapPopup::Transform(editor)),
            },
            MapPopup::SaveAs(mut input) => match action {
                Action::Back => {}
                Action::Enter if !input.text.trim().is_empty() => {
                    return Some(MapOutcome::Save(input.text.trim().to_owned()));
                }
                action => {
                    input.handle(action);
                    self.popup = Some(MapPopup::SaveAs(input));
                }
            },
            MapPopup::Load(mut picker) => match picker.update(action) {
                Some(Picked::Chosen(i)) => return Some(MapOutcome::Load(i)),
                Some(Picked::Cancelled) => {}
                None => self.popup = Some(MapPopup::Load(picker)),
            },
            MapPopup::Offer(offer) => match action {
                Action::Yes | Action::Enter => {
                    return Some(MapOutcome::AcceptOffer(Box::new(offer.profile.clone())));
                }
                Action::No | Action::Back => {}
                _ => self.popup = Some(MapPopup::Offer(offer)),
            },
        }
        None
    }

    fn open_custom(&mut self, mapping: &Mapping) {
        let Some(column) = mapping.columns.get(self.selected()) else {
            return;
        };
        let current = match &column.target {
            Some(Target::UserField(key) | Target::OrganizationField(key)) => key.clone(),
            _ => suggest_key(&column.header),
        };
        self.popup = Some(MapPopup::Custom(TextInput::new(&current)));
    }

    fn open_picker(&mut self, mapping: &Mapping) {
        let Some(column) = mapping.columns.get(self.selected()) else {
            return;
        };
        let mut choices = vec![Choice {
            label: strings::IGNORE.to_owned(),
            note: strings::IGNORE_NOTE.to_owned(),
            value: Pick::Target(None),
        }];
        let object = mapping.object;
        choices.extend(object.targets().iter().map(|t| Choice {
            label: t.to_string(),
            note: object.describe(t).to_owned(),
            value: Pick::Target(Some(t.clone())),
        }));
        choices.push(Choice {
            label: object.custom_label().to_owned(),
            note: strings::PICK_CUSTOM_NOTE.to_owned(),
            value: Pick::Custom,
        });
        // Custom fields already used by other columns, so they can be picked again.
        let mut keys: Vec<&Target> = mapping
            .mapped()
            .map(|(_, t)| t)
            .filter(|t| matches!(t, Target::UserField(_) | Target::OrganizationField(_)))
            .collect();
        keys.sort();
        keys.dedup();
        choices.extend(keys.into_iter().map(|t| Choice {
            label: t.to_string(),
            note: t.describe().to_owned(),
            value: Pick::Target(Some(t.clone())),
        }));
        let title = format!(
            " {} '{}' ",
            strings::MAP_PICK_TITLE,
            fit(&column.header, 30)
        );
        let mut picker = Picker::new(&title, choices);
        let current = column
            .target
            .as_ref()
            .map_or(strings::IGNORE.to_owned(), ToString::to_string);
        picker.select_label(&current);
        self.popup = Some(MapPopup::Target(picker));
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer, mapping: &Mapping, mode: Mode) {
        let [status, body, notice] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        self.render_status(status, buf, mapping, mode);
        self.render_table(body, buf, mapping);
        match &self.notice {
            Some(Notice::Info(text)) => {
                Line::from(Span::styled(format!(" {text}"), Style::new().fg(theme::OK)))
                    .render(notice, buf);
            }
            Some(Notice::Error(text)) => {
                Line::from(Span::styled(
                    format!(" {text}"),
                    Style::new().fg(theme::ERROR),
                ))
                .render(notice, buf);
            }
            None => {}
        }
        self.render_popup(area, buf, mapping.object);
    }

    fn render_status(&self, area: Rect, buf: &mut Buffer, mapping: &Mapping, mode: Mode) {
        let mapped = mapping.mapped().count();
        let mut first = vec![
            Span::styled(" rows ", theme::dim()),
            Span::styled(mapping.object.to_string(), theme::header()),
            Span::styled(" (o)", theme::dim()),
            Span::styled("  mode ", theme::dim()),
            Span::styled(mode.to_string(), theme::header()),
            Span::styled(" (m)", theme::dim()),
            Span::raw(format!(
                "   {mapped} of {} columns mapped",
                mapping.columns.len()
            )),
        ];
        if let Some(name) = &self.profile_name {
            first.push(Span::styled(format!("   profile '{name}'"), theme::dim()));
        }
        let problems = mapping.problems(mode);
        let second = if problems.is_empty() {
            Line::from(Span::styled(
                format!(" ✓ {}", strings::MAP_READY),
                Style::new().fg(theme::OK),
            ))
        } else {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Line::from(Span::styled(
                format!(" ✗ {}", text.join("; ")),
                Style::new().fg(theme::ERROR).bold(),
            ))
        };
        let [a, b] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        Line::from(first).render(a, buf);
        second.render(b, buf);
    }

    fn render_table(&mut self, area: Rect, buf: &mut Buffer, mapping: &Mapping) {
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(strings::MAP_TITLE);
        let inner_width = usize::from(block.inner(area).width);
        // Column, header, samples, target, why: samples take what is left.
        let header_w = 18.min(inner_width / 5);
        let target_w = 24;
        let reason_w = 11;
        let samples_w = inner_width.saturating_sub(4 + header_w + target_w + reason_w + 4 + 2);
        let head =
            TableRow::new(["col", "header", "samples", "target", "why"].map(TableCell::from))
                .style(theme::dim());
        let rows = mapping.columns.iter().map(|c| {
            let samples = self
                .samples
                .get(c.index)
                .map(|s| s.join(" · "))
                .unwrap_or_default();
            let (target, style) = match &c.target {
                Some(t) => {
                    let mark = if c.transform.is_default() { "" } else { " ƒ" };
                    (format!("{t}{mark}"), Style::new().fg(theme::ACCENT))
                }
                None => (strings::IGNORE.to_owned(), theme::dim()),
            };
            let reason_style = match c.reason {
                MatchReason::Fuzzy(_) | MatchReason::LooksLikeId => Style::new().fg(theme::WARNING),
                MatchReason::Unmatched => theme::dim(),
                _ => Style::new(),
            };
            TableRow::new(vec![
                TableCell::from(column_letter(self.first_column + c.index)).style(theme::dim()),
                TableCell::from(fit(&c.header, header_w)),
                TableCell::from(fit(&samples, samples_w)).style(theme::dim()),
                TableCell::from(fit(&target, target_w)).style(style),
                TableCell::from(c.reason.to_string()).style(reason_style),
            ])
        });
        let widths = [
            Constraint::Length(4),
            Constraint::Length(u16::try_from(header_w).unwrap_or(18)),
            Constraint::Min(8),
            Constraint::Length(u16::try_from(target_w).unwrap_or(24)),
            Constraint::Length(u16::try_from(reason_w).unwrap_or(11)),
        ];
        StatefulWidget::render(
            Table::new(rows, widths)
                .header(head)
                .block(block)
                .column_spacing(1)
                .row_highlight_style(theme::selected()),
            area,
            buf,
            &mut self.table,
        );
    }

    fn render_popup(&mut self, area: Rect, buf: &mut Buffer, object: Object) {
        match &mut self.popup {
            Some(MapPopup::Target(picker)) => picker.render(area, buf),
            Some(MapPopup::Load(picker)) => picker.render(area, buf),
            Some(MapPopup::Custom(input)) => {
                let prefix = custom_prefix(object);
                input_popup(area, buf, strings::MAP_CUSTOM_TITLE, prefix, input);
            }
            Some(MapPopup::SaveAs(input)) => {
                input_popup(area, buf, strings::MAP_SAVE_TITLE, "name: ", input);
            }
            Some(MapPopup::Transform(editor)) => editor.render(area, buf),
            Some(MapPopup::Offer(offer)) => {
                let lines = vec![
                    Line::from(format!(
                        "Saved profile '{}' fits this sheet: {} of its {} columns are here.",
                        offer.profile.name,
                        offer.matched(),
                        offer.profile.columns.len()
                    )),
                    Line::from(""),
                    Line::from(Span::styled(strings::MAP_OFFER_QUESTION, theme::header())),
                ];
                crate::tui::widgets::popup(
                    area,
                    buf,
                    strings::MAP_OFFER_TITLE,
                    lines,
                    strings::MAP_OFFER_KEYS,
                    theme::ACCENT,
                );
            }
            None => {}
        }
    }
}

/// A small popup with one text field.
fn input_popup(area: Rect, buf: &mut Buffer, title: &str, label: &str, input: &TextInput) {
    let rect = centered(area, 60, 5);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(theme::ACCENT))
        .title(Span::styled(title.to_owned(), theme::header()))
        .title_bottom(Line::from(Span::styled(strings::INPUT_KEYS, theme::dim())).right_aligned());
    let inner = block.inner(rect);
    block.render(rect, buf);
    let [_, line] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    input.render(label, line, buf);
}

/// What a typed custom field key goes after: `user_fields.` or `organization_fields.`.
fn custom_prefix(object: Object) -> &'static str {
    match object {
        Object::Users => "user_fields.",
        Object::Organizations => "organization_fields.",
    }
}

/// A custom field key from a header: `Renewal Date` → `renewal_date`.
pub fn suggest_key(header: &str) -> String {
    let mut key = String::new();
    for c in header.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::check::auto_match;

    fn mapping() -> Mapping {
        let headers = ["Full Name", "E-mail", "Plan", "Renewal Date"].map(str::to_owned);
        auto_match(&headers)
    }

    fn state() -> MapState {
        let mut s = MapState::default();
        s.table.select(Some(0));
        s
    }

    fn typed(s: &mut MapState, m: &mut Mapping, mode: &mut Mode, text: &str) {
        for c in text.chars() {
            s.update(&Action::Char(c), m, mode);
        }
    }

    #[test]
    fn picking_a_target_with_the_fuzzy_picker() {
        let (mut s, mut m, mut mode) = (state(), mapping(), Mode::Upsert);
        s.update(&Action::Down, &mut m, &mut mode);
        s.update(&Action::Down, &mut m, &mut mode);
        s.update(&Action::Enter, &mut m, &mut mode);
        assert!(s.is_typing());
        typed(&mut s, &mut m, &mut mode, "ext");
        s.update(&Action::Enter, &mut m, &mut mode);
        assert!(s.popup.is_none());
        assert_eq!(m.columns[2].target, Some(Target::ExternalId));
        assert_eq!(m.columns[2].reason, MatchReason::Manual);
    }

    #[test]
    fn custom_field_key_is_suggested_from_the_header_and_checked() {
        let (mut s, mut m, mut mode) = (state(), mapping(), Mode::Upsert);
        s.table.select(Some(3));
        s.update(&Action::CustomField, &mut m, &mut mode);
        let Some(MapPopup::Custom(input)) = &s.popup else {
            panic!("custom field popup")
        };
        assert_eq!(input.text, "renewal_date");
        s.update(&Action::Enter, &mut m, &mut mode);
        assert_eq!(
            m.columns[3].target,
            Some(Target::UserField("renewal_date".into()))
        );
        // A key with a space is refused and the field stays open.
        s.update(&Action::CustomField, &mut m, &mut mode);
        typed(&mut s, &mut m, &mut mode, " x");
        s.update(&Action::Enter, &mut m, &mut mode);
        assert!(matches!(s.popup, Some(MapPopup::Custom(_))));
        assert!(matches!(&s.notice, Some(Notice::Error(e)) if e.contains("custom field key")));
    }

    #[test]
    fn ignore_mode_save_and_next() {
        let (mut s, mut m, mut mode) = (state(), mapping(), Mode::Upsert);
        s.update(&Action::Ignore, &mut m, &mut mode);
        assert_eq!(m.columns[0].target, None);
        s.update(&Action::Mode, &mut m, &mut mode);
        assert_eq!(mode, Mode::Update);
        s.update(&Action::SaveProfile, &mut m, &mut mode);
        typed(&mut s, &mut m, &mut mode, "crm");
        assert_eq!(
            s.update(&Action::Enter, &mut m, &mut mode),
            Some(MapOutcome::Save("crm".into()))
        );
        assert_eq!(
            s.update(&Action::Next, &mut m, &mut mode),
            Some(MapOutcome::Next)
        );
    }

    #[test]
    fn keys_from_headers() {
        assert_eq!(suggest_key("Renewal Date"), "renewal_date");
        assert_eq!(suggest_key(" Plan (2026) "), "plan_2026");
        assert_eq!(suggest_key("Ünïcode—Name"), "n_code_name");
    }

    /// A table that starts in column C of its sheet, with Japanese, emoji and accented cells.
    fn wide_table() -> SheetTable {
        let headers = ["氏名", "E-mail", "Notes"].map(str::to_owned).to_vec();
        let rows = [
            ["山田太郎", "taro@example.jp", "🎉 VIP customer since 2019"],
            [
                "佐藤花子",
                "hanako@example.jp",
                "顧客メモ：請求書は毎月送付",
            ],
            ["Zoe\u{301} Ångström", "zoe@example.com", "café ☕ regular"],
        ]
        .iter()
        .zip(4..)
        .map(|(cells, number)| crate::session::source::Row {
            number,
            cells: cells
                .iter()
                .map(|c| crate::session::source::Cell::Text((*c).into()))
                .collect(),
        })
        .collect();
        let layout = crate::session::source::TableLayout {
            sheet: "顧客".into(),
            header_row: 3,
            first_column: 2,
            headers: headers.clone(),
        };
        SheetTable::from_rows(layout, rows, 0)
    }

    #[test]
    fn map_shows_the_sheets_column_letters_and_wide_samples_80x24() {
        let table = wide_table();
        let mut m = auto_match(&table.layout.headers);
        let mut s = MapState::new(&table);
        let terminal = crate::tui::widgets::drawn(80, 24, |area, buf| {
            s.render(area, buf, &m, Mode::Upsert);
        });
        insta::assert_snapshot!("map_wide_80x24", terminal.backend());
        let text = format!("{:?}", terminal.backend());
        assert!(
            text.contains("│C    氏名"),
            "the first column is C:\n{text}"
        );
        let mut mode = Mode::Upsert;
        s.update(&Action::Enter, &mut m, &mut mode);
        let terminal = crate::tui::widgets::drawn(80, 24, |area, buf| {
            s.render(area, buf, &m, mode);
        });
        insta::assert_snapshot!("map_wide_picker_80x24", terminal.backend());
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn map_screen() {
        insta::assert_snapshot!(frame(&mut map_app(), 100, 30).backend());
        insta::assert_snapshot!("map_screen_80x24", frame(&mut map_app(), 80, 24).backend());
    }

    #[test]
    fn map_screen_of_organizations() {
        let mut app = map_app();
        app.update(Action::Object);
        assert_eq!(
            app.session.mapping.object,
            crate::session::check::Object::Organizations
        );
        let targets: Vec<String> = app
            .session
            .mapping
            .mapped()
            .map(|(_, t)| t.to_string())
            .collect();
        // A person's full name is no company's name: only Customer ID matches.
        assert_eq!(targets, ["external_id"]);
        insta::assert_snapshot!("map_organizations_80x24", frame(&mut app, 80, 24).backend());
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Enter);
        insta::assert_snapshot!(
            "map_organizations_picker_80x24",
            frame(&mut app, 80, 24).backend()
        );
        app.update(Action::Back);
        app.update(Action::Object);
        assert_eq!(
            app.session.mapping.object,
            crate::session::check::Object::Users
        );
    }

    #[test]
    fn map_screen_popups() {
        let mut app = map_app();
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Enter);
        for c in "us".chars() {
            app.update(Action::Char(c));
        }
        insta::assert_snapshot!("map_picker", frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        app.update(Action::CustomField);
        insta::assert_snapshot!("map_custom_field", frame(&mut app, 80, 24).backend());
        app.update(Action::Enter);
        app.update(Action::Transform);
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Right);
        insta::assert_snapshot!("map_transform", frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        app.update(Action::Mode);
        app.update(Action::Mode);
        insta::assert_snapshot!("map_missing_for_mode", frame(&mut app, 100, 30).backend());
    }

    #[test]
    fn map_screen_offers_a_saved_profile() {
        let mut app = sheet_app();
        let mut with_table = map_app();
        std::mem::swap(&mut app, &mut with_table);
        let profile: crate::session::profiles::Profile = serde_json::from_str(
            r#"{"version":1,"name":"crm monthly","mode":"create","columns":[
                {"source":"Full Name","target":"name"},{"source":"E-mail","target":"email"},
                {"source":"Plan","target":"user_fields.plan"}]}"#,
        )
        .unwrap();
        if let Screen::Map(state) = &mut app.screen {
            state.profile_name = None;
        }
        app.handle(AppEvent::ProfilesListed(vec![profile]));
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
    }
}
