//! Calendar arithmetic and the time stamps each log writes (UTC; no chrono needed).

/// Days since 1970-01-01 -> (year, month 1-12, day 1-31) (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) -> days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Microseconds since the epoch for a UTC civil time.
pub fn ts_us(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    (days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s)) * 1_000_000
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Broken-down UTC time.
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month 1-12.
    pub month: u32,
    /// Day of month 1-31.
    pub day: u32,
    /// Hour.
    pub hour: u32,
    /// Minute.
    pub min: u32,
    /// Second.
    pub sec: u32,
    /// Microseconds.
    pub usec: u32,
    /// `Mon`..`Sun`.
    pub weekday: &'static str,
    /// `Jan`..`Dec`.
    pub month_name: &'static str,
}

/// Breaks `ts_us` down (UTC).
pub fn civil(ts_us: i64) -> Civil {
    let secs = ts_us.div_euclid(1_000_000);
    let usec = ts_us.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        usec,
        weekday: WEEKDAYS[days.rem_euclid(7) as usize],
        month_name: MONTHS[(month - 1) as usize],
    }
}

/// RFC 3164 syslog stamp: `Mar  1 18:49:05` (day padded with a space).
pub fn syslog(ts_us: i64) -> String {
    let c = civil(ts_us);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        c.month_name, c.day, c.hour, c.min, c.sec
    )
}

/// Apache `%t`: `[01/Mar/2026:18:49:05 +0000]`.
pub fn apache_t(ts_us: i64) -> String {
    apache_t_local(ts_us, 0)
}

/// Apache `%t` in a local zone `utc_offset_secs` east of UTC: `[01/Mar/2026:19:49:05 +0100]`.
pub fn apache_t_local(ts_us: i64, utc_offset_secs: i32) -> String {
    let c = civil(ts_us + i64::from(utc_offset_secs) * 1_000_000);
    let sign = if utc_offset_secs < 0 { '-' } else { '+' };
    let off = utc_offset_secs.unsigned_abs();
    format!(
        "[{:02}/{}/{}:{:02}:{:02}:{:02} {sign}{:02}{:02}]",
        c.day,
        c.month_name,
        c.year,
        c.hour,
        c.min,
        c.sec,
        off / 3600,
        off / 60 % 60
    )
}

/// Apache 2.4 error-log stamp: `[Sun Mar 01 18:49:05.123456 2026]`.
pub fn apache_error(ts_us: i64) -> String {
    let c = civil(ts_us);
    format!(
        "[{} {} {:02} {:02}:{:02}:{:02}.{:06} {}]",
        c.weekday, c.month_name, c.day, c.hour, c.min, c.sec, c.usec, c.year
    )
}

/// HTTP `Date:` value: `Sun, 01 Mar 2026 18:49:05 GMT`.
pub fn http_date(ts_us: i64) -> String {
    let c = civil(ts_us);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        c.weekday, c.day, c.month_name, c.year, c.hour, c.min, c.sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let t = ts_us(2026, 3, 1, 18, 49, 5);
        assert_eq!(t, 1_772_390_945_000_000);
        assert_eq!(syslog(t), "Mar  1 18:49:05");
        assert_eq!(apache_t(t), "[01/Mar/2026:18:49:05 +0000]");
        assert_eq!(
            apache_error(t + 123_456),
            "[Sun Mar 01 18:49:05.123456 2026]"
        );
        assert_eq!(http_date(t), "Sun, 01 Mar 2026 18:49:05 GMT");
        assert_eq!(apache_t_local(t, 3600), "[01/Mar/2026:19:49:05 +0100]");
        assert_eq!(
            apache_t_local(t, -(5 * 3600 + 1800)),
            "[01/Mar/2026:13:19:05 -0530]"
        );
        // The lab error log: [Tue Nov 24 20:50:30.336238 2026]
        let lab = ts_us(2026, 11, 24, 20, 50, 30) + 336_238;
        assert_eq!(apache_error(lab), "[Tue Nov 24 20:50:30.336238 2026]");
    }

    #[test]
    fn round_trip_days() {
        for d in [-800_000i64, -1, 0, 1, 59, 365, 20_000, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
