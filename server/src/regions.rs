//! Peru's 25 departments: the regions users work in, each with its own database.
//!
//! A region's database name is its department name in lowercase ASCII with hyphens
//! (`madre-de-dios`), so that it is a valid CouchDB database name and reads well in a URL.

/// One department of Peru.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The department's UBIGEO code (`"17"` for Madre de Dios).
    pub ubigeo: &'static str,
    /// The name people read (`"Madre de Dios"`).
    pub name: &'static str,
    /// The name of its database (`"madre-de-dios"`).
    pub db: &'static str,
}

/// All 25 departments, in UBIGEO order.
pub const REGIONS: [Region; 25] = [
    region("01", "Amazonas", "amazonas"),
    region("02", "Áncash", "ancash"),
    region("03", "Apurímac", "apurimac"),
    region("04", "Arequipa", "arequipa"),
    region("05", "Ayacucho", "ayacucho"),
    region("06", "Cajamarca", "cajamarca"),
    region("07", "Callao", "callao"),
    region("08", "Cusco", "cusco"),
    region("09", "Huancavelica", "huancavelica"),
    region("10", "Huánuco", "huanuco"),
    region("11", "Ica", "ica"),
    region("12", "Junín", "junin"),
    region("13", "La Libertad", "la-libertad"),
    region("14", "Lambayeque", "lambayeque"),
    region("15", "Lima", "lima"),
    region("16", "Loreto", "loreto"),
    region("17", "Madre de Dios", "madre-de-dios"),
    region("18", "Moquegua", "moquegua"),
    region("19", "Pasco", "pasco"),
    region("20", "Piura", "piura"),
    region("21", "Puno", "puno"),
    region("22", "San Martín", "san-martin"),
    region("23", "Tacna", "tacna"),
    region("24", "Tumbes", "tumbes"),
    region("25", "Ucayali", "ucayali"),
];

const fn region(ubigeo: &'static str, name: &'static str, db: &'static str) -> Region {
    Region { ubigeo, name, db }
}

/// The region whose database is called `db`, if any.
pub fn by_db(db: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.db == db)
}

/// Whether `db` names one of the 25 regional databases.
pub fn is_region_db(db: &str) -> bool {
    by_db(db).is_some()
}

/// The regional database names, for error messages ("one of: amazonas, ancash, …").
pub fn db_names() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().map(|r| r.db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_25_regions_with_unique_codes_and_database_names_in_ubigeo_order() {
        for (i, r) in REGIONS.iter().enumerate() {
            assert_eq!(r.ubigeo, format!("{:02}", i + 1));
        }
        let dbs: std::collections::BTreeSet<_> = db_names().collect();
        assert_eq!(dbs.len(), 25);
    }

    #[test]
    fn database_names_are_lowercase_ascii_with_hyphens() {
        for r in REGIONS {
            assert!(
                r.db.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                r.db
            );
        }
        assert_eq!(by_db("madre-de-dios").map(|r| r.ubigeo), Some("17"));
        assert_eq!(by_db("san-martin").map(|r| r.name), Some("San Martín"));
        assert!(!is_region_db("Madre de Dios"));
    }
}
