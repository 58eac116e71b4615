//! Phone numbers to E.164 (`+4915112345678`): the form Zendesk matches incoming calls by, and
//! with "validate user phone numbers" on the only one it accepts (API.md, `phone`).

use std::fmt;
use std::str::FromStr;

use phonenumber::country;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The country a number without `+` is read in: a two-letter code such as `US`, `GB`, `DE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhoneRegion(country::Id);

impl FromStr for PhoneRegion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        code.parse::<country::Id>()
            .ok()
            .filter(|_| code.len() == 2)
            .map(PhoneRegion)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a phone region: a two-letter country code such as US, GB or DE"
                )
            })
    }
}

impl fmt::Display for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.0.as_ref())
    }
}

impl Serialize for PhoneRegion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_ref())
    }
}

impl<'de> Deserialize<'de> for PhoneRegion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What the operator can do about a number without a country code.
const SET_REGION: &str = "start it with + or set the phone region the sheet's numbers are in";

/// The number in E.164, or why it cannot be written so (the caller sends it as is and warns).
pub fn e164(text: &str, region: Option<PhoneRegion>) -> Result<String, String> {
    let trimmed = text.trim();
    // `00` is the international prefix in most of the world; without a region it is the only
    // sign that a country code follows.
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let input = match (region, trimmed.strip_prefix("00")) {
        (None, Some(rest)) => format!("+{rest}"),
        _ => trimmed.to_owned(),
    };
    if region.is_none() && !international {
        return Err(format!(
            "cannot be written as E.164: no country code{}; {SET_REGION}",
            lost_plus(trimmed).unwrap_or_default()
        ));
    }
    let cannot = |why: &str| format!("cannot be written as E.164: {why}");
    let number = phonenumber::parse(region.map(|r| r.0), &input).map_err(|e| match region {
        Some(r) if !international => cannot(&format!("{e} (read in region {r})")),
        _ => cannot(&e.to_string()),
    })?;
    if number.extension().is_some() {
        return Err(cannot("it has an extension, which E.164 cannot hold"));
    }
    if !number.is_valid() {
        let region = match region {
            Some(r) if !international => format!(" in region {r}"),
            _ => String::new(),
        };
        return Err(cannot(&format!("not a valid phone number{region}")));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A number of digits only that is a valid international number with a `+` before it (a
/// spreadsheet stores `+49 151…` typed as a number as `49151…`): what it would be, to say so.
/// Never applied without the operator: a national number whose leading 0 was lost can look
/// like another country's.
fn lost_plus(text: &str) -> Option<String> {
    if text.len() < 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = phonenumber::parse(None, format!("+{text}")).ok()?;
    if !number.is_valid() {
        return None;
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    let country = number
        .country()
        .id()
        .map(|id| format!(" ({})", id.as_ref()))
        .unwrap_or_default();
    Some(format!(" (if the sheet lost its +, it is {e164}{country})"))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn region(code: &str) -> Option<PhoneRegion> {
        Some(code.parse().unwrap())
    }

    #[rstest]
    #[case::already_e164("+4915112345678", None, "+4915112345678")]
    #[case::spaced_international("+49 151 1234 5678", None, "+4915112345678")]
    #[case::double_zero("0049 151 12345678", None, "+4915112345678")]
    #[case::national_de("0151 12345678", region("DE"), "+4915112345678")]
    #[case::national_us("(415) 555-2671", region("US"), "+14155552671")]
    #[case::dotted_us("415.555.2671", region("us"), "+14155552671")]
    #[case::plus_ignores_region("+44 20 7946 0958", region("US"), "+442079460958")]
    #[case::national_gb("020 7946 0958", region("GB"), "+442079460958")]
    #[case::excel_lost_the_plus("4915112345000", region("DE"), "+4915112345000")]
    #[case::national_pt("912345678", region("PT"), "+351912345678")]
    fn normalises(#[case] text: &str, #[case] region: Option<PhoneRegion>, #[case] want: &str) {
        assert_eq!(e164(text, region), Ok(want.to_owned()));
    }

    #[rstest]
    #[case::no_region("0151 12345678", None, "no country code; start it with +")]
    #[case::lost_plus(
        "4915112345000",
        None,
        "no country code (if the sheet lost its +, it is +4915112345000 (DE)); start it with +"
    )]
    #[case::too_short("12", region("DE"), "cannot be written as E.164")]
    #[case::invalid_for_region("555-0100", region("US"), "not a valid phone number in region US")]
    #[case::extension("+1 415 555 2671 ext. 12", None, "extension")]
    fn cannot_normalise(
        #[case] text: &str,
        #[case] region: Option<PhoneRegion>,
        #[case] want: &str,
    ) {
        let err = e164(text, region).unwrap_err();
        assert!(err.contains(want), "{err}");
    }

    #[rstest]
    #[case("DE", Ok("DE"))]
    #[case(" gb ", Ok("GB"))]
    #[case("Germany", Err("'Germany' is not a phone region"))]
    #[case("", Err("is not a phone region"))]
    #[case("001", Err("is not a phone region"))]
    fn regions(#[case] text: &str, #[case] want: Result<&str, &str>) {
        match (text.parse::<PhoneRegion>(), want) {
            (Ok(got), Ok(want)) => assert_eq!(got.to_string(), want),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got}"),
            (got, want) => panic!("{text}: {got:?}, wanted {want:?}"),
        }
    }

    #[test]
    fn a_region_round_trips_as_its_code() {
        let r: PhoneRegion = serde_json::from_str(r#""de""#).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), r#""DE""#);
        assert!(serde_json::from_str::<PhoneRegion>(r#""XX""#).is_err());
    }
}
