//! The point-in-time join of one view on Spark: for each entity row, the view's row with the
//! same keys and the largest (event time, created time, position) among those with
//! `t - ttl <= event time <= t` (and, with `created_before`, `created <= t`): the rules of
//! [`crate::historical`](fn@crate::historical), as a range join and a window function.

use std::path::Path;

use polars::prelude::{DataFrame, DataType as PlType, IDX_DTYPE};

use super::{Spark, arrow_frame, quote};
use crate::FeatureError;
use crate::view::{CREATED, TS};

/// What [`Spark::point_in_time`] joins.
pub(crate) struct PointInTime<'a> {
    pub view: &'a str,
    /// A Parquet file of the entity rows: `row` (their position, a 64-bit integer), `t` (their
    /// time, UTC microseconds) and the view's join keys, cast to the view's key types.
    pub entities: &'a Path,
    pub row: &'a str,
    pub t: &'a str,
    /// The view's offline table (a verified object of the store).
    pub offline: &'a Path,
    pub keys: &'a [String],
    pub has_created: bool,
    pub ttl_micros: Option<i64>,
    pub created_before: bool,
    /// The features to bring, with their types in the offline table.
    pub features: &'a [(String, PlType)],
}

impl Spark {
    /// The entity rows that have a candidate: `row` (as polars' row index type) and the
    /// chosen row's features.
    pub(crate) fn point_in_time(&self, join: &PointInTime) -> Result<DataFrame, FeatureError> {
        let view = join.view;
        for (name, path) in [
            ("__cairn_entities", join.entities),
            ("__cairn_offline", join.offline),
        ] {
            self.session
                .read()
                .format("parquet")
                .load(Some(&path.to_string_lossy()))
                .create_or_replace_temp_view(name)
                .map_err(|e| self.error(view, e))?;
        }
        let (row, t) = (quote(join.row), quote(join.t));
        let created = if join.has_created {
            format!("unix_micros(CAST({} AS TIMESTAMP))", quote(CREATED))
        } else {
            "CAST(NULL AS BIGINT)".to_owned()
        };
        let mut on: Vec<String> = join
            .keys
            .iter()
            .map(|k| format!("e.{k} = f.{k}", k = quote(k)))
            .collect();
        on.push(format!("f.__cairn_ts <= e.{t}"));
        if let Some(ttl) = join.ttl_micros {
            on.push(format!("f.__cairn_ts >= e.{t} - {ttl}"));
        }
        if join.created_before && join.has_created {
            on.push(format!("f.__cairn_created <= e.{t}"));
        }
        let features: Vec<String> = join.features.iter().map(|(f, _)| quote(f)).collect();
        let picked: Vec<String> = features.iter().map(|f| format!("f.{f}")).collect();
        let query = format!(
            "SELECT {row}, {features} FROM ( \
               SELECT e.{row} AS {row}, {picked}, row_number() OVER ( \
                 PARTITION BY e.{row} \
                 ORDER BY f.__cairn_ts DESC, f.__cairn_created DESC NULLS LAST, f.__cairn_pos DESC \
               ) AS __cairn_rank \
               FROM __cairn_entities e JOIN ( \
                 SELECT *, unix_micros(CAST({ts} AS TIMESTAMP)) AS __cairn_ts, \
                   {created} AS __cairn_created, \
                   monotonically_increasing_id() AS __cairn_pos \
                 FROM __cairn_offline \
               ) f ON {on} \
             ) WHERE __cairn_rank = 1",
            features = features.join(", "),
            picked = picked.join(", "),
            ts = quote(TS),
            on = on.join(" AND "),
        );
        let batches = self.collect(view, &query)?;
        let mut columns = vec![(join.row.to_owned(), PlType::Int64)];
        columns.extend(join.features.iter().cloned());
        let mut frame =
            arrow_frame::frame(&batches, &columns).map_err(|message| FeatureError::Spark {
                view: view.to_owned(),
                message,
            })?;
        let polars = |e: polars::prelude::PolarsError| FeatureError::Polars {
            view: view.to_owned(),
            message: e.to_string(),
        };
        let row = frame
            .column(join.row)
            .and_then(|c| c.cast(&IDX_DTYPE))
            .map_err(polars)?;
        frame.with_column(row).map_err(polars)?;
        Ok(frame)
    }
}
