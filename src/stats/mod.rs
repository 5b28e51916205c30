//! Statistics of `compare`, apart from the load loop: how far a run's
//! percentile, throughput or error rate can be trusted, and whether a change
//! between runs is larger than the noise. One file per idea, each tested
//! alone:
//!
//! - [`dist`]: quantiles of the normal and Student's t distributions;
//! - [`batch`]: the mean of an autocorrelated series and its effective sample
//!   size, from batch means (as scylladb/latte sizes its errors);
//! - [`bootstrap`]: a circular block bootstrap over a run's per-second
//!   HdrHistograms (they add exactly), the error of each percentile;
//! - [`sample`]: a results folder read as the per-second data the above use;
//! - [`estimate`]: one run's estimate of one metric with its variance;
//! - [`change`]: the interval of the change from one or several baselines to
//!   a run, with the spread between baseline runs when there are three or more;
//! - [`changepoint`]: change points of a run history's series (E-Divisive
//!   with a permutation test), for `history report`;
//! - [`multiplicity`]: the per-line level that keeps the false-alarm rate of a
//!   whole comparison (Bonferroni);
//! - [`verdict`]: the four words (`regressed`, `improved`, `unchanged`,
//!   `inconclusive`) and what would resolve an inconclusive line;
//! - [`limits`]: the fixed percentage limits of `compare`'s older flags, now
//!   extra checks applied only when given;
//! - [`compare`]: all of it over every service and metric, as
//!   [`crate::results::comparison::Comparison`] (`compare.json`);
//! - [`flags`]: the flags that say how to judge, shared by `compare` and
//!   `history check`.
//!
//! The reports never import this module: they read `compare.json`.

pub mod batch;
pub mod bootstrap;
pub mod change;
pub mod changepoint;
pub mod compare;
pub mod dist;
pub mod estimate;
pub mod flags;
pub mod limits;
pub mod multiplicity;
pub mod sample;
pub mod verdict;
