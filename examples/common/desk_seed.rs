//! Seeding for `examples/desk_search.rs`: customers (names, organisations, e-mail, main and
//! mobile numbers) and intakes (callers, titles, descriptions, solutions, a year of history,
//! ticket numbers per Amsterdam year, the second level's inbox) written straight into the
//! tables (docs/schema.md) in batches of multi-row INSERTs; a deterministic PRNG, so two runs
//! seed the same data.

use std::sync::LazyLock;

use firstline::store::{Store, Zone, format_ticket_no, search_text};
use sqlx::AssertSqlSafe;

/// A small deterministic PRNG (xorshift64*).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
    pub(crate) fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    /// An element with a skew toward the front (index ~ n·u³ for uniform u).
    pub(crate) fn skewed<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let i = (u * u * u * from.len() as f64) as usize;
        from[i.min(from.len() - 1)]
    }
}

pub(crate) const FIRST_TEXT: &str = "Anouk|Bram|Carla|Daan|Eline|Femke|Gert|Hanna|Iris|Joost|Kees|Lotte|Maarten|Noor|Olaf|\
    Pien|Quinten|Roos|Sander|Tess|Ugo|Vera|Wouter|Xander|Yara|Zoë|Bart|Ilse|Jeroen|\
    Marieke";
pub(crate) const LAST_TEXT: &str = "de Vries|Jansen|Bakker|Visser|Smit|Meijer|de Boer|Mulder|de Groot|Bos|Vos|Peters|\
    Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Smits|de Graaf|van der Meer|Kok|\
    Jacobs|Vermeulen|Peeters|Maes";
const TOWNS_TEXT: &str = "Zaanwijk Lindehof Bergdal Oosterveen Westmere Noordbroek Zuidhaven Eikenrode \
    Molenbeek Waterland Heidedorp Kanaalzijde";
const KINDS_TEXT: &str = "Gemeente Ziekenhuis Hogeschool Waterschap Bibliotheek";
/// Words of titles, descriptions and solutions (the search benchmark's vocabulary), the most
/// common first: text draws from it with a skew (`Rng::skewed`), as real tickets repeat a few
/// words (printer, password) and use most others rarely.
pub(crate) const WORDS_TEXT: &str = "the does not work error user printer outlook password laptop de het niet werkt \
    melding gebruiker vpn screen network reset crash slow disk update windows teams \
    excel mail server wifi docking station keyboard mouse battery license account locked \
    installer driver scanner phone headset camera backup restore folder share permission \
    sharepoint onedrive citrix remote desktop monitor cable power boot freeze storing \
    wachtwoord inloggen traag scherm afdrukken netwerk certificaat agenda profiel \
    toegang kapot accu toetsenbord muis beeldscherm koptelefoon vergadering uitnodiging \
    bijlage handtekening mailbox quota vol opslag schijf herstart opnieuw installeren \
    verwijderd bestand map gedeeld rechten groep afdeling locatie gebouw verdieping \
    kamer bureau telefoon toestel doorverbinden voicemail headsetadapter bluetooth usb \
    hdmi displayport adapter lader stroom stekker wandcontact switch poort patchkabel \
    router firewall proxy dns dhcp ipadres certificate expired browser chrome edge \
    firefox cache cookies bookmark favorieten sso mfa authenticator token sms code \
    pincode smartcard badge pasje kiosk thinclient workstation imaging intune autopilot \
    bitlocker recovery key bios firmware dock thunderbolt webcam microphone audio sound \
    speaker projector beamer whiteboard plotter toner cartridge papier lade \
    papierstoring nietjes scan ocr pdf word powerpoint access database sap erp crm \
    salesforce zaaksysteem dms archief export import rapport dashboard koppeling \
    interface api timeout vastgelopen foutcode 0x80070005 kb5034441 bsod blauw zwart \
    flikkert ruis";
/// First names, surnames, towns, kinds of organisation and text words, as lists.
pub(crate) static FIRST: LazyLock<Vec<&str>> = LazyLock::new(|| FIRST_TEXT.split('|').collect());
pub(crate) static LAST: LazyLock<Vec<&str>> = LazyLock::new(|| LAST_TEXT.split('|').collect());
static TOWNS: LazyLock<Vec<&str>> = LazyLock::new(|| TOWNS_TEXT.split(' ').collect());
static KINDS: LazyLock<Vec<&str>> = LazyLock::new(|| KINDS_TEXT.split(' ').collect());
pub(crate) static WORDS: LazyLock<Vec<&str>> =
    LazyLock::new(|| WORDS_TEXT.split_whitespace().collect());
const GROUPS: &[&str] = &["Workplace", "Network", "Applications", "Servers"];
const VENDORS: &[&str] = &["Dell", "HP", "Microsoft", "Cisco"];
const DAY_MS: i64 = 86_400_000;

/// The main number of seeded customer `i` (`+3185…`, clear of the demo numbers).
pub(crate) fn main_number(i: usize) -> String {
    format!("+3185{:07}", 3_000_000 + i)
}

/// `min` to `min + spread - 1` words of the vocabulary.
fn words(rng: &mut Rng, min: usize, spread: usize) -> String {
    let n = min + rng.below(spread);
    (0..n)
        .map(|_| rng.skewed(&WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `INSERT INTO table (cols) VALUES ($1, …), (…)` for `rows` rows of `cols` values.
fn insert_sql(head: &str, rows: usize, cols: usize) -> String {
    let mut sql = head.to_owned();
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { " VALUES (" } else { ", (" });
        for c in 0..cols {
            n += 1;
            sql.push_str(&format!("{}${n}", if c == 0 { "" } else { ", " }));
        }
        sql.push(')');
    }
    sql
}

/// One value to bind.
enum V {
    T(Option<String>),
    I(Option<i64>),
}

async fn insert(store: &Store, head: &str, cols: usize, rows: &[Vec<V>]) -> Result<(), String> {
    if rows.is_empty() {
        return Ok(());
    }
    // Only placeholders are formatted into the statement; every value is bound.
    let sql = insert_sql(head, rows.len(), cols);
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for row in rows {
        for v in row {
            q = match v {
                V::T(t) => q.bind(t.clone()),
                V::I(i) => q.bind(*i),
            };
        }
    }
    q.execute(store.pool())
        .await
        .map_err(|e| format!("{head}: {e}"))?;
    Ok(())
}

/// Writes `customers` customers and `intakes` intakes (with escalation rows for the escalated
/// ones) created over the year before `now`.
pub(crate) async fn seed(
    store: &Store,
    customers: usize,
    intakes: usize,
    now: i64,
) -> Result<(), String> {
    let mut rng = Rng(0x005e_edf1);
    let batch = 500;
    let mut rows = Vec::with_capacity(batch);
    let mut phones = Vec::with_capacity(batch);
    for i in 0..customers {
        let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
        let org = format!("{} {}", rng.pick(&KINDS), rng.pick(&TOWNS));
        let mail = format!(
            "{}.{}{i}@{}.example.nl",
            first.to_lowercase(),
            last.replace(' ', "").to_lowercase(),
            org.replace(' ', "-").to_lowercase()
        );
        rows.push(vec![
            V::T(Some(format!("cust-bench-{i:06}"))),
            V::T(Some(format!("{first} {last}"))),
            V::T(Some(org)),
            V::T(Some(mail)),
            V::T(Some(main_number(i))),
            V::I(Some(now - 400 * DAY_MS)),
            V::I(Some(now - 400 * DAY_MS)),
        ]);
        if i % 3 == 0 {
            phones.push(vec![
                V::T(Some(format!("cust-bench-{i:06}"))),
                V::T(Some(format!("+3168{:07}", 3_000_000 + i))),
                V::T(Some("mobile".into())),
            ]);
        }
        if rows.len() == batch || i + 1 == customers {
            insert(
                store,
                "INSERT INTO customers (id, name, organisation, email, phone, created_at, updated_at)",
                7,
                &rows,
            )
            .await?;
            rows.clear();
            insert(
                store,
                "INSERT INTO customer_phones (customer_id, number, label)",
                3,
                &phones,
            )
            .await?;
            phones.clear();
        }
    }
    let zone = Zone::CentralEurope;
    let mut counters: std::collections::BTreeMap<i32, i64> = Default::default();
    let mut escalations = Vec::new();
    let mut search = Vec::with_capacity(batch);
    for i in 0..intakes {
        // Oldest first, so ticket numbers grow with time as the server would give them.
        let created = now - 365 * DAY_MS + (i as i64) * (365 * DAY_MS / intakes.max(1) as i64);
        let year = zone.date_of(created).year();
        let n = counters.entry(year).or_insert(0);
        *n += 1;
        let known = rng.below(10) < 7 && customers > 0;
        let c = rng.below(customers.max(1));
        let caller = if known {
            main_number(c)
        } else {
            format!("+3161{:07}", rng.below(9_999_999))
        };
        let title = words(&mut rng, 2, 3);
        let description = words(&mut rng, 15, 25);
        let roll = rng.below(100);
        let (status, level, group) = match roll {
            0..=69 => ("resolved", 1, None),
            70..=79 => ("open", 1, None),
            80..=87 => ("escalated", 2, Some(GROUPS[rng.below(GROUPS.len())])),
            88..=89 => ("escalated", 3, Some(VENDORS[rng.below(VENDORS.len())])),
            _ => ("draft", 1, None),
        };
        let solution = (status == "resolved").then(|| words(&mut rng, 5, 10));
        let text = search_text(Some(&title), Some(&description), solution.as_deref());
        let owner = (group.is_some() && rng.below(3) == 0).then(|| "agent-demo-eva".to_owned());
        let id = format!("intake-bench-{i:07}");
        search.push(vec![
            V::T(Some(id.clone())),
            V::I(Some(created)),
            V::T(Some(text)),
        ]);
        if let Some(target) = group {
            escalations.push(vec![
                V::T(Some(format!("esc-bench-{i:07}"))),
                V::T(Some(id.clone())),
                V::I(Some(1)),
                V::I(Some(1)),
                V::I(Some(level)),
                V::T(Some(target.to_owned())),
                V::T(Some("needs a specialist".into())),
                V::T(Some("agent-demo-anna".into())),
                V::I(Some(created + 60_000)),
            ]);
        }
        rows.push(vec![
            V::T(Some(id)),
            V::T(known.then(|| format!("cust-bench-{c:06}"))),
            V::T(Some(caller)),
            V::T(Some(
                ["hardware", "software", "service"][rng.below(3)].into(),
            )),
            V::I((rng.below(6) > 0).then(|| 1 + rng.below(5) as i64)),
            V::T(Some(status.into())),
            V::I(Some(level)),
            V::T(Some(title)),
            V::T(Some(description)),
            V::T(solution),
            V::I(Some(created)),
            V::I(Some(created)),
            V::I((status == "resolved").then_some(created + 600_000)),
            V::T(Some(format_ticket_no(year, *n))),
            V::T(owner),
            V::T(group.map(str::to_owned)),
        ]);
        if rows.len() == batch || i + 1 == intakes {
            insert(
                store,
                "INSERT INTO intakes (id, customer_id, caller, category, priority, status, level, \
                 title, description, solution, created_at, updated_at, resolved_at, ticket_no, \
                 owner_id, group_name)",
                16,
                &rows,
            )
            .await?;
            rows.clear();
            insert(
                store,
                "INSERT INTO intake_search (intake_id, sort_at, words)",
                3,
                &search,
            )
            .await?;
            search.clear();
            insert(
                store,
                "INSERT INTO escalations (id, intake_id, seq, from_level, to_level, target, \
                 reason, agent_id, at)",
                9,
                &escalations,
            )
            .await?;
            escalations.clear();
        }
    }
    for (year, value) in counters {
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) \
             DO UPDATE SET value = excluded.value",
        )
        .bind(format!("ticket:{year}"))
        .bind(value)
        .execute(store.pool())
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}
