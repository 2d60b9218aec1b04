// Package cache is the on-disk store of docker-credential-acr: one small JSON
// file per purpose in one private directory, shared safely by any number of
// concurrent helper processes.
//
// Two files use it: tokens.json (a cache of ACR refresh tokens and short-lived
// negative results; losing it only costs a refetch) and credentials.json
// (credentials stored with `docker login`; must never be lost or corrupted).
//
// # Format
//
// A file holds {"version":1,"entries":{"<key>":{...Entry...}}}. Keys are made
// with [Key] and never contain their inputs in the clear.
//
// # Reading
//
// [Store.Get] and [Store.All] take no lock: writers only ever replace the file
// with an atomic rename, so a reader always sees one whole version of it. A
// file that is missing, empty, truncated, not JSON, of the wrong JSON shape or
// of another version (for example one written by a newer release) reads as
// empty: a miss, never an error. A single entry that does not decode is
// skipped alone. The next [Store.Update] replaces such a file with a valid
// version-1 file holding only what could be read (so a file written by a newer
// release is overwritten by an older one that updates it).
//
// # Writing
//
// [Store.Update] takes an exclusive flock(2) on the sidecar "<name>.lock",
// re-reads the file, lets the caller change the entries and, unless nothing
// changed, writes a temporary file (created 0600 with O_EXCL, so it is never
// readable by others, whatever the umask), fsyncs it, renames it over the file
// and fsyncs the directory. A crash at any point leaves either the old or the
// new file, never a mixture. Temporary files left by a killed writer
// ("<name>.*.tmp") are harmless: readers never look at them, and Update
// removes those older than a minute.
//
// [Store.LockKey] is a cross-process single flight for one key, so that many
// processes started at once on a cold cache make one token exchange, not one
// each: Get, on a miss LockKey, Get again, fetch, Update, unlock.
//
// # Safety
//
// The directory is created 0700 and files are 0600. [Open] refuses a
// directory that is a symbolic link, is not a directory, is owned by someone
// else or is writable by group or others; Get, All and Update refuse a file
// that is a symbolic link, not a regular file, owned by someone else or
// writable by group or others. Callers treat these errors as "work without
// cache". Error messages name paths, never contents. The package never prints.
package cache
