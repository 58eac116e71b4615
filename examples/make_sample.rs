//! Writes `assets/users_sample.xlsx`, the realistic sample the README and tests use.
//!
//! Run `cargo run --example make_sample` after changing it; the file is committed.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

const FIRST: [&str; 20] = [
    "Ana", "Bruno", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiro", "Ingrid", "Jamal",
    "Kerstin", "Luis", "Mei", "Nikos", "Olga", "Priya", "Quentin", "Rosa", "Søren", "Tomás",
];
const LAST: [&str; 10] = [
    "Silva",
    "Müller",
    "O'Brien",
    "Nakamura",
    "Okafor",
    "Haddad",
    "Kowalski",
    "Johansson",
    "García",
    "Lee",
];
const COMPANIES: [&str; 6] = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Retail",
    "",
];
const PLANS: [&str; 4] = ["Gold", "Silver", "Bronze", "gold"];
const LANGS: [&str; 4] = ["en-US", "de", "es", "fr"];
const ZONES: [&str; 4] = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
];
const ROWS: u32 = 200;

fn main() -> Result<(), XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let sheet = book.add_worksheet().set_name("Customers")?;
    sheet.write_with_format(
        0,
        0,
        "Acme CRM: customer contacts export, November 2026",
        &bold,
    )?;
    let headers = [
        "Full Name",
        "E-mail",
        "Customer ID",
        "Phone",
        "Company",
        "Role",
        "Tags",
        "Plan",
        "Renewal Date",
        "Seats",
        "Language",
        "Time Zone",
        "Notes",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_with_format(2, c as u16, *h, &bold)?;
    }
    for i in 0..ROWS {
        let r = i + 3;
        let first = FIRST[(i % 20) as usize];
        let last = LAST[((i / 20) % 10) as usize];
        let email = format!("{}.{}@example.com", ascii(first), ascii(last)).to_lowercase();
        sheet.write(r, 0, format!("{first} {last}"))?;
        sheet.write(
            r,
            1,
            if i % 37 == 5 {
                email.to_uppercase()
            } else {
                email
            },
        )?;
        if i % 25 == 7 {
            sheet.write(r, 2, format!("{:06}", 100 + i))?; // a text id with leading zeros
        } else {
            sheet.write(r, 2, f64::from(10_000 + i))?; // a number id: Excel stores 10007.0
        }
        sheet.write(r, 3, 4_915_112_345_000.0 + f64::from(i))?;
        sheet.write(r, 4, COMPANIES[(i % 6) as usize])?;
        sheet.write(r, 5, if i % 50 == 0 { "agent" } else { "end-user" })?;
        sheet.write(
            r,
            6,
            if i % 3 == 0 {
                "vip, newsletter"
            } else {
                "newsletter"
            },
        )?;
        sheet.write(r, 7, PLANS[(i % 4) as usize])?;
        let renewal = ExcelDateTime::from_ymd(2027, (i % 12 + 1) as u8, (i % 28 + 1) as u8)?;
        sheet.write_with_format(r, 8, &renewal, &date)?;
        sheet.write(r, 9, f64::from(i % 40 + 1))?;
        sheet.write(r, 10, LANGS[(i % 4) as usize])?;
        sheet.write(r, 11, ZONES[(i % 4) as usize])?;
        if i % 10 == 0 {
            sheet.write(r, 12, "Migrated from the old helpdesk")?;
        }
    }
    let last = ROWS + 3;
    // The few bad rows every real export has.
    sheet.write(last, 0, "Walter Broken")?;
    sheet.write(last, 1, "walter.broken(at)example.com")?; // malformed e-mail
    sheet.write(last, 2, 99_001.0)?;
    sheet.write(last + 1, 0, "")?;
    sheet.write(last + 1, 1, "no.name@example.com")?; // no name
    sheet.write(last + 1, 2, 99_002.0)?;
    sheet.write(last + 2, 0, "Ana Silva")?;
    sheet.write(last + 2, 1, "ana.silva@example.com")?; // duplicate of the first row
    sheet.write(last + 2, 2, 99_003.0)?;
    sheet.write(last + 3, 0, "Rita Rogue")?;
    sheet.write(last + 3, 1, "rita.rogue@example.com")?;
    sheet.write_formula(
        last + 3,
        2,
        rust_xlsxwriter::Formula::new("=NA()").set_result("#N/A"),
    )?;
    sheet.write(last + 3, 5, "superuser")?; // not a Zendesk role
    sheet.write(last + 3, 7, "Platinum")?; // not a plan option
    sheet.set_column_width(0, 22)?;
    sheet.set_column_width(1, 32)?;
    book.save("assets/users_sample.xlsx")
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' => 'e',
            'ü' => 'u',
            'ø' => 'o',
            'á' => 'a',
            'í' => 'i',
            '\'' => '-',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}
