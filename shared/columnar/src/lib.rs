//! columnar
