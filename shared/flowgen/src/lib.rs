//! flowgen
