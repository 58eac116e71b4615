//! What preview, validate and import share: a sheet, a mapping and a mode from the arguments.

use super::{CliError, CliResult};
use clap::Args;

use super::SourceArgs;
use crate::session::check::Fields;
use crate::session::check::{self, Mode, PhoneRegion};
use crate::session::check::{Mapping, Object, Target, auto_match_for};
use crate::session::profiles::{self, Profile};
use crate::session::source::{HeaderChoice, TableLayout, Workbook};

/// How columns map to Zendesk fields.
#[derive(Debug, Clone, Args)]
pub struct MappingArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// A saved profile by name, or a profile file
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,
    /// Map a column, e.g. "E-mail=email" or "Plan=user_fields.plan"; "=ignore" leaves it out
    /// (repeatable; applied over --profile or --auto)
    #[arg(long = "map", value_name = "HEADER=TARGET", value_parser = parse_map)]
    pub maps: Vec<(String, Option<Target>)>,
    /// Start from the automatic matching of headers (exact names, aliases, similar names)
    #[arg(long)]
    pub auto: bool,
    /// create, upsert or update (default: the profile's mode, else upsert)
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<Mode>,
    /// What the rows are: users, or organizations (a sheet of companies: targets name,
    /// external_id, domain_names, details, notes, tags, group_id, shared_tickets,
    /// shared_comments, organization_fields.KEY) (default: the profile's, else users)
    #[arg(long, value_name = "users|organizations", value_parser = parse_object)]
    pub object: Option<Object>,
    /// Ask Zendesk not to send new users a verification email
    #[arg(long)]
    pub skip_verify_email: bool,
    /// Read phone numbers without a leading + in this country (two letters: US, GB, DE) and
    /// send every phone as E.164 (default: the profile's phone_region)
    #[arg(long, value_name = "CC", value_parser = parse_region)]
    pub phone_region: Option<PhoneRegion>,
    /// Rows with errors: skip them (default: the profile's, else skip), block (send nothing
    /// while any row has an error) or include (send too the rows whose errors Zendesk judges
    /// itself: an invalid email, a missing name or update key; never a row whose error would
    /// send wrong data, such as a spreadsheet error cell or a value that cannot be converted)
    #[arg(long, value_name = "skip|block|include", value_parser = parse_invalid)]
    pub invalid: Option<check::InvalidPolicy>,
    /// Save the resulting mapping as a profile under this name
    #[arg(long, value_name = "NAME")]
    pub save_profile: Option<String>,
}

/// A workbook with its table located and its columns mapped, ready to run.
pub struct Prepared {
    pub workbook: Workbook,
    pub sheet: usize,
    pub header: HeaderChoice,
    pub layout: TableLayout,
    pub mapping: Mapping,
    pub options: check::Options,
    /// The profile asks to make a new email on an existing user its primary one.
    pub make_primary: bool,
}

impl Prepared {
    /// The sheet to check as it streams, with this mapping and these options.
    pub fn streamed(&mut self) -> check::Streamed<'_> {
        check::Streamed {
            workbook: &mut self.workbook,
            sheet: self.sheet,
            header: self.header,
            mapping: &self.mapping,
            options: &self.options,
        }
    }
}

impl MappingArgs {
    /// What the rows are: `--object`, else the profile's, else users.
    pub fn object(&self) -> CliResult<Object> {
        if let Some(object) = self.object {
            return Ok(object);
        }
        match &self.profile {
            Some(name) => Ok(profiles::load(name)?.object),
            None => Ok(Object::default()),
        }
    }

    /// Opens the file, finds the table and builds the mapping; notes go to stderr.
    pub fn prepare(&self) -> CliResult<Prepared> {
        self.prepare_for(None)
    }

    /// [`MappingArgs::prepare`] knowing the account's custom fields: `--auto` matches headers
    /// to them, and a column mapped to a key the account lacks (or has switched off) stops
    /// here, once, instead of failing every row.
    pub fn prepare_for(&self, fields: Option<&Fields>) -> CliResult<Prepared> {
        if self.profile.is_none() && self.maps.is_empty() && !self.auto {
            return Err(CliError::Usage(format!(
                "say how columns map: --profile NAME, --map \"Header=target\" or --auto \
                 (`zdimport inspect {}` shows the columns)",
                self.source.file.display()
            )));
        }
        let profile = self.profile.as_deref().map(profiles::load).transpose()?;
        for (p, note) in profile
            .iter()
            .flat_map(|p| p.notes.iter().map(move |n| (p, n)))
        {
            eprintln!("zdimport: profile '{}': {note}", p.name);
        }
        let mut workbook = Workbook::open(&self.source.file)?;
        let wanted_sheet = self
            .source
            .sheet
            .as_ref()
            .or(profile.as_ref().and_then(|p| p.sheet.as_ref()));
        let sheet = match wanted_sheet {
            Some(name) => workbook.find_sheet(name)?,
            None => workbook.default_sheet(),
        };
        let header = self
            .source
            .header_row
            .or(profile.as_ref().and_then(|p| p.header_row))
            .map_or(HeaderChoice::Auto, HeaderChoice::Row);
        let layout = workbook.layout(sheet, header)?;
        let object = self
            .object
            .or(profile.as_ref().map(|p| p.object))
            .unwrap_or_default();
        let mut mapping = match &profile {
            Some(p) => fit(p, &layout)?,
            None if self.auto => {
                let custom = fields.map(Fields::custom_fields).unwrap_or_default();
                auto_match_for(object, &layout.headers, &custom)
            }
            None => Mapping::unmapped(&layout.headers),
        };
        mapping.object = object;
        mapping
            .apply_overrides(&self.maps)
            .map_err(|e| format!("{}: --map: {e}", self.source.file.display()))?;
        let mode = self
            .mode
            .or(profile.as_ref().map(|p| p.mode))
            .unwrap_or_default();
        let mut problems = mapping.problems(mode);
        problems.extend(fields.map(|f| f.problems(&mapping)).unwrap_or_default());
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(CliError::Usage(format!(
                "{}, sheet '{}': {}",
                self.source.file.display(),
                layout.sheet,
                list.join("; ")
            )));
        }
        let options = check::Options {
            mode,
            skip_verify_email: self.skip_verify_email
                || profile
                    .as_ref()
                    .is_some_and(|p| p.options.skip_verify_email),
            phone_region: self
                .phone_region
                .or(profile.as_ref().and_then(|p| p.options.phone_region)),
            invalid: self
                .invalid
                .or(profile.as_ref().map(|p| p.options.invalid))
                .unwrap_or_default(),
            // The engine's default; `import --concurrency` sets its own.
            jobs: check::JOB_LIMIT,
        };
        if let Some(name) = &self.save_profile {
            let kept = profile.as_ref().map(|p| p.options.clone());
            self.save(name, (&workbook, &layout), &mapping, options, kept)?;
        }
        Ok(Prepared {
            workbook,
            sheet,
            header,
            layout,
            mapping,
            options,
            make_primary: profile.as_ref().is_some_and(|p| p.options.make_primary),
        })
    }

    /// `kept`: the options of the profile the mapping came from, whose plan choices
    /// (`missing_orgs`, `make_primary`) stay unless the command says otherwise
    /// ([`MappingArgs::save_plan_choices`]).
    fn save(
        &self,
        name: &str,
        (workbook, layout): (&Workbook, &TableLayout),
        mapping: &Mapping,
        options: check::Options,
        kept: Option<profiles::ProfileOptions>,
    ) -> CliResult<()> {
        let mut saved = Profile::from_mapping(name, mapping, options.mode);
        if let Some(kept) = kept {
            saved.options.missing_orgs = kept.missing_orgs;
            saved.options.make_primary = kept.make_primary;
            saved.options.tags = kept.tags;
        }
        saved.options.skip_verify_email = options.skip_verify_email;
        saved.options.phone_region = options.phone_region;
        saved.options.invalid = options.invalid;
        saved.header_row = self.source.header_row;
        if workbook.sheets().len() > 1 {
            saved.sheet = Some(layout.sheet.clone());
        }
        let path = profiles::save(&saved)?;
        eprintln!("zdimport: saved profile '{name}' ({})", path.display());
        Ok(())
    }
}

impl MappingArgs {
    /// `--save-profile` on `plan` and `import`: the profile just saved also keeps what
    /// happens to missing organizations and whether new emails are made primary.
    pub fn save_plan_choices(
        &self,
        missing_orgs: crate::session::check::MissingOrgs,
        make_primary: bool,
    ) -> CliResult<()> {
        let Some(name) = &self.save_profile else {
            return Ok(());
        };
        let mut saved = profiles::load(name)?;
        saved.options.missing_orgs = missing_orgs;
        saved.options.make_primary = make_primary;
        profiles::save(&saved)?;
        Ok(())
    }
}

impl MappingArgs {
    /// `--save-profile` on `plan` and `import`: the profile keeps the tags mode too.
    pub fn save_tags_choice(&self, tags: crate::session::check::Tags) -> CliResult<()> {
        let Some(name) = &self.save_profile else {
            return Ok(());
        };
        let mut saved = profiles::load(name)?;
        saved.options.tags = tags;
        profiles::save(&saved)?;
        Ok(())
    }
}

/// Maps the table by a profile; a profile none of whose columns are here is an error.
fn fit(profile: &Profile, layout: &TableLayout) -> CliResult<Mapping> {
    let fit = profile.apply(&layout.headers);
    let matched = profile.columns.len() - fit.missing.len();
    if matched == 0 && !profile.columns.is_empty() {
        return Err(CliError::Usage(format!(
            "profile '{}' does not fit sheet '{}' (header row {}): none of its columns ({}) is a \
             header there; headers are: {}",
            profile.name,
            layout.sheet,
            layout.header_row,
            fit.missing.join(", "),
            layout.headers.join(", ")
        )));
    }
    if !fit.missing.is_empty() {
        eprintln!(
            "zdimport: profile '{}': not in sheet '{}': {}",
            profile.name,
            layout.sheet,
            fit.missing.join(", ")
        );
    }
    Ok(fit.mapping)
}

fn parse_map(text: &str) -> Result<(String, Option<Target>), String> {
    let (header, target) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("'{text}' is not HEADER=TARGET"))?;
    if header.trim().is_empty() {
        return Err(format!("'{text}': the header is empty"));
    }
    let target = match target.trim() {
        t if t.eq_ignore_ascii_case("ignore") => None,
        t => Some(t.parse::<Target>().map_err(|e| e.to_string())?),
    };
    Ok((header.trim().to_owned(), target))
}

fn parse_region(text: &str) -> Result<PhoneRegion, String> {
    text.parse()
}

fn parse_invalid(text: &str) -> Result<check::InvalidPolicy, String> {
    text.parse()
}

fn parse_object(text: &str) -> Result<Object, String> {
    text.parse()
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    text.parse()
}
