//! A feature view computed on Spark: the source's files read with the column types polars
//! gives them, the view's SQL over the table `source`, then the same typed projection,
//! filter and sort as [`crate::view::compute`], with ties kept in the order of the source
//! (or of the SQL's result).

use cairn_core::Project;
use cairn_core::dataset::ColumnType;
use cairn_core::features::FeatureViewSpec;
use cairn_core::table::{Format, Inference};
use polars::prelude::{DataType as PlType, TimeUnit};
use spark_connect::DataType as SparkType;

use super::{Spark, arrow_frame, quote};
use crate::FeatureError;
use crate::view::{CREATED, TS, join_keys};

/// The row position that breaks the sort's ties: the order rows come in.
const POS: &str = "__cairn_pos";
/// The temporary view of the SQL's result (or of the source, without SQL).
const INPUT: &str = "__cairn_input";

impl Spark {
    /// Computes a view on Spark: keys, `event_timestamp`, `created_timestamp` (if declared)
    /// and the features, typed and sorted as [`crate::view::compute`] has them. `source` is
    /// the polars scan of the view's source, whose column types the server reads the files
    /// with.
    pub(crate) fn compute_view(
        &self,
        project: &Project,
        name: &str,
        spec: &FeatureViewSpec,
        source: &mut polars::prelude::LazyFrame,
    ) -> Result<polars::prelude::DataFrame, FeatureError> {
        let path = project.root().join(&spec.source);
        let polars_err = |e: polars::prelude::PolarsError| FeatureError::Polars {
            view: name.to_owned(),
            message: e.to_string(),
        };
        let schema = source.collect_schema().map_err(polars_err)?;
        match self.compute_with_schema(project, name, spec, &schema) {
            // A CSV value that does not fit the type guessed from the first rows: the types
            // guessed from every row, as the polars engine does.
            Err(FeatureError::Spark { .. })
                if cairn_core::table::table_format(&path)? == Format::Csv =>
            {
                let mut every = cairn_core::table::scan_table_with(&path, Inference::EveryRow)?;
                let wider = every.collect_schema().map_err(polars_err)?;
                if wider == schema {
                    self.compute_with_schema(project, name, spec, &schema)
                } else {
                    self.compute_with_schema(project, name, spec, &wider)
                }
            }
            other => other,
        }
    }

    fn compute_with_schema(
        &self,
        project: &Project,
        name: &str,
        spec: &FeatureViewSpec,
        schema: &polars::prelude::Schema,
    ) -> Result<polars::prelude::DataFrame, FeatureError> {
        let err = |column: &str, reason: String| FeatureError::View {
            view: name.to_owned(),
            column: column.to_owned(),
            reason,
        };
        self.register_source(project, name, spec, schema)?;
        let keys = join_keys(project, spec);
        let mut input = "source";
        if let Some(sql) = &spec.sql {
            if let Err(e) = self.register(name, INPUT, sql) {
                // Over no rows the view has no rows, whatever the SQL makes of the source's
                // untyped columns (as with polars).
                if self.count(name, "SELECT count(*) FROM source")? == Some(0) {
                    return empty_view(name, spec, &keys);
                }
                return Err(e);
            }
            input = INPUT;
        }
        let columns = self
            .session
            .sql(&format!("SELECT * FROM {input}"))
            .and_then(|f| f.schema())
            .map_err(|e| self.error(name, e))?;
        let SparkType::Struct { fields } = columns else {
            return Err(err("sql", "its result is not a table".into()));
        };
        let available = || {
            fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let have = |column: &str, what: &str| -> Result<SparkType, FeatureError> {
            fields
                .iter()
                .find(|f| f.name == column)
                .map(|f| f.data_type.clone())
                .ok_or_else(|| {
                    err(
                        column,
                        format!(
                            "the {what} column is not in the source (it has: {})",
                            available()
                        ),
                    )
                })
        };
        // Text columns that must become something else and hold no value are untyped (they
        // take the declared type), as with polars: asked in one query.
        let mut wanted: Vec<(String, &str, ColumnType)> = keys
            .iter()
            .map(|(k, t)| (k.clone(), "join key", *t))
            .collect();
        wanted.push((spec.timestamp.clone(), "timestamp", ColumnType::Datetime));
        if let Some(created) = &spec.created {
            wanted.push((created.clone(), "created", ColumnType::Datetime));
        }
        wanted.extend(
            spec.features
                .iter()
                .map(|(f, t)| (f.clone(), "feature", *t)),
        );
        let types = wanted
            .iter()
            .map(|(column, what, _)| have(column, what))
            .collect::<Result<Vec<_>, _>>()?;
        let to_check: Vec<&str> = wanted
            .iter()
            .zip(&types)
            .filter(|((_, _, want), have)| {
                *want != ColumnType::String && matches!(have, SparkType::String { .. })
            })
            .map(|((c, _, _), _)| c.as_str())
            .collect();
        let mut untyped = vec![false; to_check.len()];
        if !to_check.is_empty() {
            let query = format!(
                "SELECT {} FROM {input}",
                to_check
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("count({}) = 0 AS __c{i}", quote(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let batches = self.collect(name, &query)?;
            for (i, flag) in untyped.iter_mut().enumerate() {
                let column = arrow_frame::column(&batches, &format!("__c{i}"), &PlType::Boolean)
                    .map_err(|message| FeatureError::Spark {
                        view: name.to_owned(),
                        message,
                    })?;
                *flag = column
                    .get(0)
                    .ok()
                    .and_then(|v| v.extract_bool())
                    .unwrap_or(false);
            }
        }
        let is_untyped = |column: &str, have: &SparkType| {
            matches!(have, SparkType::Null)
                || to_check
                    .iter()
                    .position(|c| *c == column)
                    .is_some_and(|i| untyped[i])
        };
        let mut select = Vec::new();
        let mut output = Vec::new();
        let mut order = Vec::new();
        let mut present = Vec::new();
        for (((column, _, want), have), i) in wanted.iter().zip(&types).zip(0..) {
            let untyped = is_untyped(column, have);
            let (alias, expr) = if column == &spec.timestamp && i == keys.len() {
                let expr = micros(column, have, untyped).map_err(|r| err(column, r))?;
                (TS.to_owned(), expr)
            } else if spec.created.as_ref() == Some(column) && i == keys.len() + 1 {
                let expr = micros(column, have, untyped).map_err(|r| err(column, r))?;
                (CREATED.to_owned(), expr)
            } else {
                let expr = cast_to(column, have, *want, untyped).map_err(|r| err(column, r))?;
                (column.clone(), expr)
            };
            select.push(format!("{expr} AS {}", quote(&alias)));
            let dtype = if alias == TS || alias == CREATED {
                PlType::Datetime(TimeUnit::Microseconds, None)
            } else {
                polars_type(*want)
            };
            if i < keys.len() || alias == TS {
                present.push(format!("{} IS NOT NULL", quote(&alias)));
            }
            if i < keys.len() || alias == TS || alias == CREATED {
                order.push(format!("{} ASC NULLS FIRST", quote(&alias)));
            }
            output.push((alias, dtype));
        }
        order.push(quote(POS));
        let query = format!(
            "SELECT {outer} FROM (SELECT {select}, monotonically_increasing_id() AS {pos} FROM {input}) WHERE {present} ORDER BY {order}",
            outer = output
                .iter()
                .map(|(c, _)| quote(c))
                .collect::<Vec<_>>()
                .join(", "),
            select = select.join(", "),
            pos = quote(POS),
            present = present.join(" AND "),
            order = order.join(", "),
        );
        let batches = self.collect(name, &query)?;
        arrow_frame::frame(&batches, &output).map_err(|message| FeatureError::Spark {
            view: name.to_owned(),
            message,
        })
    }

    /// The view `source`: the source's files, each read with the column types of `schema`
    /// (polars'), stacked in path order.
    fn register_source(
        &self,
        project: &Project,
        name: &str,
        spec: &FeatureViewSpec,
        schema: &polars::prelude::Schema,
    ) -> Result<(), FeatureError> {
        let path = project.root().join(&spec.source);
        let (format, files) = cairn_core::table::table_files(&path)?;
        let mut parts = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            let file_view = format!("__cairn_file_{i}");
            let location = file.to_string_lossy();
            let reader = self.session.read();
            let frame = match format {
                Format::Csv => {
                    let ddl = schema
                        .iter()
                        .map(|(column, dtype)| {
                            format!(
                                "{} {}",
                                quote(column),
                                spark_type(dtype).unwrap_or("STRING")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    // RFC 4180 quoting (a quote inside a quoted value is doubled), as polars
                    // reads it; a value that does not fit its type is an error, not a null.
                    reader
                        .format("csv")
                        .schema(ddl)
                        .option("header", "true")
                        .option("escape", "\"")
                        .option("mode", "FAILFAST")
                        .load(Some(&location))
                }
                Format::Parquet => reader.format("parquet").load(Some(&location)),
            };
            frame
                .create_or_replace_temp_view(&file_view)
                .map_err(|e| self.error(name, e))?;
            // Parquet columns take the types polars reads them as (a decimal is a float, a
            // zoned timestamp the same instant).
            let columns = schema
                .iter()
                .map(|(column, dtype)| match (format, spark_type(dtype)) {
                    (Format::Parquet, Some(t)) => {
                        format!("CAST({} AS {t}) AS {}", quote(column), quote(column))
                    }
                    _ => quote(column),
                })
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!("SELECT {columns} FROM {file_view}"));
        }
        self.register(name, "source", &parts.join(" UNION ALL "))
    }

    /// The single number a query answers (`None` for a null).
    fn count(&self, view: &str, query: &str) -> Result<Option<i64>, FeatureError> {
        let batches = self.collect(view, &format!("SELECT ({query}) AS n"))?;
        let column = arrow_frame::column(&batches, "n", &PlType::Int64).map_err(|message| {
            FeatureError::Spark {
                view: view.to_owned(),
                message,
            }
        })?;
        Ok(column.get(0).ok().and_then(|v| v.extract::<i64>()))
    }
}

/// The view of a source without rows: its declared columns, typed, no rows.
fn empty_view(
    name: &str,
    spec: &FeatureViewSpec,
    keys: &[(String, ColumnType)],
) -> Result<polars::prelude::DataFrame, FeatureError> {
    let mut columns: Vec<polars::prelude::Column> = keys
        .iter()
        .map(|(k, t)| polars::prelude::Column::full_null(k.as_str().into(), 0, &polars_type(*t)))
        .collect();
    let micros = PlType::Datetime(TimeUnit::Microseconds, None);
    columns.push(polars::prelude::Column::full_null(TS.into(), 0, &micros));
    if spec.created.is_some() {
        columns.push(polars::prelude::Column::full_null(
            CREATED.into(),
            0,
            &micros,
        ));
    }
    columns.extend(
        spec.features.iter().map(|(f, t)| {
            polars::prelude::Column::full_null(f.as_str().into(), 0, &polars_type(*t))
        }),
    );
    polars::prelude::DataFrame::new(0, columns).map_err(|e| FeatureError::Polars {
        view: name.to_owned(),
        message: e.to_string(),
    })
}

/// The polars type of a declared column of a computed view.
pub(crate) fn polars_type(want: ColumnType) -> PlType {
    match want {
        ColumnType::Int => PlType::Int64,
        ColumnType::Float => PlType::Float64,
        ColumnType::String => PlType::String,
        ColumnType::Bool => PlType::Boolean,
        ColumnType::Date => PlType::Date,
        ColumnType::Datetime => PlType::Datetime(TimeUnit::Microseconds, None),
    }
}

/// The Spark SQL type polars' type is read as, if Spark has one.
fn spark_type(dtype: &PlType) -> Option<&'static str> {
    Some(match dtype {
        PlType::Boolean => "BOOLEAN",
        PlType::Int8 => "TINYINT",
        PlType::Int16 | PlType::UInt8 => "SMALLINT",
        PlType::Int32 | PlType::UInt16 => "INT",
        PlType::Int64 | PlType::UInt32 => "BIGINT",
        PlType::Float32 => "FLOAT",
        PlType::Float64 => "DOUBLE",
        PlType::String | PlType::Null => "STRING",
        PlType::Date => "DATE",
        PlType::Datetime(..) => "TIMESTAMP",
        _ => return None,
    })
}

/// A column cast to a declared type, if the types are compatible (widening only), as
/// [`crate::view`]'s `cast_to` decides for polars' types.
fn cast_to(
    name: &str,
    have: &SparkType,
    want: ColumnType,
    untyped: bool,
) -> Result<String, String> {
    use SparkType as S;
    let integer = matches!(have, S::Byte | S::Short | S::Integer | S::Long);
    let ok = untyped
        || match want {
            ColumnType::Int => integer,
            // Spark types `x * 1.5` as a decimal where polars has a float.
            ColumnType::Float => {
                integer || matches!(have, S::Float | S::Double | S::Decimal { .. })
            }
            ColumnType::String => {
                matches!(have, S::String { .. } | S::Char { .. } | S::Varchar { .. })
            }
            ColumnType::Bool => matches!(have, S::Boolean),
            ColumnType::Date => matches!(have, S::Date),
            ColumnType::Datetime => {
                matches!(have, S::Timestamp | S::TimestampNtz | S::Date)
            }
        };
    if !ok {
        return Err(format!(
            "is {} in the source, which is not {} (declared)",
            have.simple_string(),
            want.as_str()
        ));
    }
    let column = if untyped {
        "NULL".to_owned()
    } else {
        quote(name)
    };
    Ok(match want {
        ColumnType::Int => format!("CAST({column} AS BIGINT)"),
        ColumnType::Float => format!("CAST({column} AS DOUBLE)"),
        ColumnType::String => format!("CAST({column} AS STRING)"),
        ColumnType::Bool => format!("CAST({column} AS BOOLEAN)"),
        ColumnType::Date => format!("CAST({column} AS DATE)"),
        ColumnType::Datetime => return micros(name, have, untyped),
    })
}

/// A date or datetime column as UTC microseconds (the session computes in UTC: a naive
/// timestamp is UTC, a date its midnight).
fn micros(name: &str, have: &SparkType, untyped: bool) -> Result<String, String> {
    use SparkType as S;
    if untyped {
        return Ok("CAST(NULL AS BIGINT)".to_owned());
    }
    match have {
        S::Timestamp => Ok(format!("unix_micros({})", quote(name))),
        S::TimestampNtz | S::Date => Ok(format!("unix_micros(CAST({} AS TIMESTAMP))", quote(name))),
        other => Err(format!(
            "is {}, not a date or datetime (CSV values must be ISO 8601)",
            other.simple_string()
        )),
    }
}
