//! Peru's 25 departments (regions): UBIGEO code, Spanish name, and the database name each
//! region's records live in.

use super::validate::{choice, Choice};

choice! {
    /// A department of Peru. Its JSON form is its database name (`madre-de-dios`).
    pub enum Region {
        Amazonas = "amazonas",
        Ancash = "ancash",
        Apurimac = "apurimac",
        Arequipa = "arequipa",
        Ayacucho = "ayacucho",
        Cajamarca = "cajamarca",
        Callao = "callao",
        Cusco = "cusco",
        Huancavelica = "huancavelica",
        Huanuco = "huanuco",
        Ica = "ica",
        Junin = "junin",
        LaLibertad = "la-libertad",
        Lambayeque = "lambayeque",
        Lima = "lima",
        Loreto = "loreto",
        MadreDeDios = "madre-de-dios",
        Moquegua = "moquegua",
        Pasco = "pasco",
        Piura = "piura",
        Puno = "puno",
        SanMartin = "san-martin",
        Tacna = "tacna",
        Tumbes = "tumbes",
        Ucayali = "ucayali",
    }
}

/// Spanish names in UBIGEO order (the declaration order above).
const NAMES_ES: [&str; 25] = [
    "Amazonas",
    "Áncash",
    "Apurímac",
    "Arequipa",
    "Ayacucho",
    "Cajamarca",
    "Callao",
    "Cusco",
    "Huancavelica",
    "Huánuco",
    "Ica",
    "Junín",
    "La Libertad",
    "Lambayeque",
    "Lima",
    "Loreto",
    "Madre de Dios",
    "Moquegua",
    "Pasco",
    "Piura",
    "Puno",
    "San Martín",
    "Tacna",
    "Tumbes",
    "Ucayali",
];

impl Region {
    fn index(self) -> usize {
        Region::ALL
            .iter()
            .position(|r| *r == self)
            .expect("every region is in ALL")
    }

    /// The department's UBIGEO code, `"01"` (Amazonas) to `"25"` (Ucayali).
    pub fn code(self) -> String {
        format!("{:02}", self.index() + 1)
    }

    /// The region with UBIGEO code `code` (`"17"`; a 6-digit district UBIGEO also works, by its
    /// first two digits).
    pub fn from_code(code: &str) -> Option<Region> {
        let dept = code.get(..2)?;
        if !(code.len() == 2 || code.len() == 6) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = dept.parse().ok()?;
        Region::ALL.get(n.checked_sub(1)?).copied()
    }

    /// The name of this region's database (`madre-de-dios`).
    pub fn db_name(self) -> &'static str {
        self.name()
    }

    /// The region whose database is `name`.
    pub fn from_db_name(name: &str) -> Option<Region> {
        Region::from_name(name)
    }

    /// The Spanish display name (`Madre de Dios`).
    pub fn name_es(self) -> &'static str {
        NAMES_ES[self.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_25_regions_numbered_by_ubigeo() {
        assert_eq!(Region::ALL.len(), 25);
        assert_eq!(Region::from_code("01"), Some(Region::Amazonas));
        assert_eq!(Region::from_code("17"), Some(Region::MadreDeDios));
        assert_eq!(Region::from_code("25"), Some(Region::Ucayali));
        assert_eq!(Region::from_code("170101"), Some(Region::MadreDeDios));
        for bad in ["00", "26", "1", "ab", "1701"] {
            assert_eq!(Region::from_code(bad), None, "{bad}");
        }
        for r in Region::ALL {
            assert_eq!(Region::from_code(&r.code()), Some(*r));
            assert_eq!(Region::from_db_name(r.db_name()), Some(*r));
        }
    }

    #[test]
    fn database_names_are_lowercase_ascii_with_hyphens() {
        for r in Region::ALL {
            assert!(r
                .db_name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
        assert_eq!(Region::MadreDeDios.name_es(), "Madre de Dios");
        assert_eq!(Region::SanMartin.db_name(), "san-martin");
        assert_eq!(Region::Ucayali.name_es(), "Ucayali");
    }

    #[test]
    fn regions_serialize_as_their_database_name() {
        assert_eq!(
            serde_json::to_value(Region::LaLibertad).expect("json"),
            "la-libertad"
        );
        let r: Region = serde_json::from_value("loreto".into()).expect("parse");
        assert_eq!(r, Region::Loreto);
    }
}
