//! From a source's raw values to a checked [`DirectoryPerson`], the one definition CSV rows and
//! LDAP entries share: the customer fields, their length limits, and every number normalised
//! to E.164 once with [`crate::phone`]. Pure, no I/O.

use crate::phone;
use crate::store::{DirectoryPerson, SyncedFields};

/// Longest value of a field (characters); longer ones are refused, never cut.
pub const MAX_VALUE_CHARS: usize = 1000;
/// Longest external id.
pub const MAX_ID_CHARS: usize = 256;
/// At most this many numbers per person.
pub const MAX_NUMBERS: usize = 20;

/// A customer field a source column or attribute maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The source's own id (required).
    ExternalId,
    /// Full name (required).
    Name,
    /// Company or institution.
    Organisation,
    /// Department.
    Department,
    /// E-mail.
    Email,
    /// Main number (further values become extra numbers).
    Phone,
    /// Mobile number(s), extra numbers labelled `mobile`.
    Mobile,
    /// Further numbers, labelled `other`; in CSV several separated by `;`.
    ExtraPhones,
    /// Site, building or room.
    Location,
    /// Free text.
    Notes,
}

impl Field {
    /// Every field, in report order.
    pub const ALL: [Field; 10] = [
        Field::ExternalId,
        Field::Name,
        Field::Organisation,
        Field::Department,
        Field::Email,
        Field::Phone,
        Field::Mobile,
        Field::ExtraPhones,
        Field::Location,
        Field::Notes,
    ];

    /// The name used in mappings and reports.
    pub fn name(self) -> &'static str {
        match self {
            Field::ExternalId => "external_id",
            Field::Name => "name",
            Field::Organisation => "organisation",
            Field::Department => "department",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Mobile => "mobile",
            Field::ExtraPhones => "extra_phones",
            Field::Location => "location",
            Field::Notes => "notes",
        }
    }

    /// A field by its name or a common column title (`id`, `organization`, `mail`, …), any case.
    pub fn parse(s: &str) -> Option<Field> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "externalid" | "id" | "employeeid" | "employeenumber" | "personnelnumber" => {
                Field::ExternalId
            }
            "name" | "fullname" | "displayname" | "cn" => Field::Name,
            "organisation" | "organization" | "company" | "o" => Field::Organisation,
            "department" | "ou" | "dept" => Field::Department,
            "email" | "mail" | "emailaddress" => Field::Email,
            "phone" | "telephone" | "telephonenumber" | "tel" | "number" => Field::Phone,
            "mobile" | "mobilephone" | "cell" => Field::Mobile,
            "extraphones" | "extranumbers" | "numbers" | "otherphones" | "ipphone" => {
                Field::ExtraPhones
            }
            "location" | "site" | "office" | "room" | "l" => Field::Location,
            "notes" | "note" | "description" | "comment" => Field::Notes,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        Field::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// Why one value was refused: the field and a message for the person fixing the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// What is wrong, e.g. `phone number "12" is too short (2 digits)`.
    pub message: String,
}

/// The columns of `customers` a mapping sets (for `customers.synced_fields`).
pub fn synced_fields(mapped: &[Field]) -> SyncedFields {
    let has = |f: Field| mapped.contains(&f);
    SyncedFields {
        organisation: has(Field::Organisation),
        department: has(Field::Department),
        email: has(Field::Email),
        phone: has(Field::Phone),
        extra_phones: has(Field::Mobile) || has(Field::ExtraPhones),
        location: has(Field::Location),
        notes: has(Field::Notes),
    }
}

/// The raw values of one person, field by field, as a source gives them.
#[derive(Debug, Clone, Default)]
pub struct RawPerson {
    values: [Vec<String>; 10],
}

impl RawPerson {
    /// Adds a value of `field` (blank values are ignored).
    pub fn push(&mut self, field: Field, value: &str) {
        let value = value.trim();
        if !value.is_empty() {
            self.values[field.index()].push(value.to_owned());
        }
    }

    /// The checked person; every problem, field by field (empty only when `Ok`).
    pub fn build(self, country_code: &str) -> Result<DirectoryPerson, Vec<FieldError>> {
        let mut errors = Vec::new();
        let [
            id,
            name,
            org,
            dept,
            email,
            phone,
            mobile,
            extra,
            location,
            notes,
        ] = self.values;
        let mut one = |field: Field, values: Vec<String>, max: usize| -> Option<String> {
            let value = values.into_iter().next()?;
            if value.chars().count() > max {
                errors.push(FieldError {
                    field,
                    message: format!("longer than {max} characters"),
                });
                return None;
            }
            // Notes may span lines (a quoted CSV field, a multi-line LDAP description).
            let allowed = |c: char| field == Field::Notes && matches!(c, '\n' | '\r' | '\t');
            if value.chars().any(|c| c.is_control() && !allowed(c)) {
                errors.push(FieldError {
                    field,
                    message: "contains a control character".into(),
                });
                return None;
            }
            Some(value)
        };
        let external_id = one(Field::ExternalId, id, MAX_ID_CHARS);
        let name = one(Field::Name, name, MAX_VALUE_CHARS);
        let organisation = one(Field::Organisation, org, MAX_VALUE_CHARS);
        let department = one(Field::Department, dept, MAX_VALUE_CHARS);
        let email = one(Field::Email, email, MAX_VALUE_CHARS);
        let location = one(Field::Location, location, MAX_VALUE_CHARS);
        let notes = one(Field::Notes, notes, MAX_VALUE_CHARS);
        if external_id.is_none() && !errors.iter().any(|e| e.field == Field::ExternalId) {
            errors.push(FieldError {
                field: Field::ExternalId,
                message: "is empty (every person needs an id)".into(),
            });
        }
        if name.is_none() && !errors.iter().any(|e| e.field == Field::Name) {
            errors.push(FieldError {
                field: Field::Name,
                message: "is empty".into(),
            });
        }
        let mut numbers: Vec<(String, &'static str)> = Vec::new();
        let labelled = [
            (Field::Phone, phone, "phone"),
            (Field::Mobile, mobile, "mobile"),
            (Field::ExtraPhones, extra, "other"),
        ];
        for (field, values, label) in labelled {
            let split = values
                .iter()
                .flat_map(|v| v.split(';'))
                .map(str::trim)
                .filter(|v| !v.is_empty());
            for raw in split {
                match phone::normalize(raw, country_code) {
                    Ok(n) if numbers.iter().any(|(have, _)| have == n.as_str()) => {}
                    Ok(n) => numbers.push((n.into_string(), label)),
                    Err(e) => errors.push(FieldError {
                        field,
                        message: e.to_string(),
                    }),
                }
            }
        }
        if numbers.len() > MAX_NUMBERS {
            errors.push(FieldError {
                field: Field::Phone,
                message: format!("more than {MAX_NUMBERS} numbers"),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // The first number of the `phone` field is the main one; without it, the first found.
        let main = numbers
            .iter()
            .position(|(_, l)| *l == "phone")
            .or((!numbers.is_empty()).then_some(0))
            .map(|i| numbers.remove(i).0);
        Ok(DirectoryPerson {
            external_id: external_id.unwrap_or_default(),
            name: name.unwrap_or_default(),
            organisation,
            department,
            email,
            phone: main,
            extra_phones: numbers
                .into_iter()
                .map(|(n, l)| (n, l.to_owned()))
                .collect(),
            location,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(Field, &str)]) -> RawPerson {
        let mut p = RawPerson::default();
        for (f, v) in pairs {
            p.push(*f, v);
        }
        p
    }

    #[test]
    fn column_titles_read_as_fields() {
        assert_eq!(Field::parse("External ID"), Some(Field::ExternalId));
        assert_eq!(Field::parse("e-mail"), Some(Field::Email));
        assert_eq!(Field::parse("E-Mail Address"), Some(Field::Email));
        assert_eq!(Field::parse("Organization"), Some(Field::Organisation));
        assert_eq!(Field::parse("telephoneNumber"), Some(Field::Phone));
        assert_eq!(Field::parse("favourite colour"), None);
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Some(f), "{f:?}");
        }
    }

    #[test]
    fn numbers_are_normalised_once_deduplicated_and_the_phone_is_main() {
        let p = raw(&[
            (Field::ExternalId, "e-1"),
            (Field::Name, " Ada Lovelace "),
            (Field::Mobile, "06 1234 5678"),
            (Field::Phone, "020 123 4567"),
            (Field::ExtraPhones, "+31 20 123 4567; 0031 30 111 2233"),
        ])
        .build("31")
        .unwrap();
        assert_eq!(p.name, "Ada Lovelace");
        assert_eq!(p.phone.as_deref(), Some("+31201234567"));
        assert_eq!(
            p.extra_phones,
            [
                ("+31612345678".to_owned(), "mobile".to_owned()),
                ("+31301112233".to_owned(), "other".to_owned())
            ]
        );
        let only_mobile = raw(&[
            (Field::ExternalId, "e-2"),
            (Field::Name, "Bo"),
            (Field::Mobile, "+32475123456"),
        ])
        .build("31")
        .unwrap();
        assert_eq!(only_mobile.phone.as_deref(), Some("+32475123456"));
        assert!(only_mobile.extra_phones.is_empty());
    }

    #[test]
    fn every_problem_names_its_field() {
        let errors = raw(&[
            (Field::Name, "  "),
            (Field::Phone, "12"),
            (Field::Mobile, "06-abc"),
            (Field::Notes, &"x".repeat(MAX_VALUE_CHARS + 1)),
        ])
        .build("31")
        .unwrap_err();
        let fields: Vec<Field> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                Field::Notes,
                Field::ExternalId,
                Field::Name,
                Field::Phone,
                Field::Mobile
            ]
        );
        assert!(errors[3].message.contains("\"12\""), "{errors:?}");
        assert!(
            errors[4].message.contains("invalid character"),
            "{errors:?}"
        );
        let control = raw(&[(Field::ExternalId, "a\u{7}b"), (Field::Name, "x")]).build("31");
        assert_eq!(control.unwrap_err()[0].field, Field::ExternalId);
    }

    #[test]
    fn synced_fields_follow_the_mapping() {
        let s = synced_fields(&[
            Field::ExternalId,
            Field::Name,
            Field::Department,
            Field::Mobile,
        ]);
        assert_eq!(s.to_text(), "name,department,extra_phones");
    }
}
