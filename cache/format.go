package cache

import "encoding/json"

// formatVersion is the only file version this package reads and writes.
const formatVersion = 1

// rawFile is the file as read: entries stay undecoded until asked for, so
// Get decodes only the entry it returns, and one bad entry spoils no other.
type rawFile struct {
	Version int                        `json:"version"`
	Entries map[string]json.RawMessage `json:"entries"`
}

type file struct {
	Version int              `json:"version"`
	Entries map[string]Entry `json:"entries"`
}

// decodeRaw returns the undecoded entries of data, or nil if data is not a
// version-1 file (empty, truncated, not JSON, wrong shape, other version).
func decodeRaw(data []byte) map[string]json.RawMessage {
	if len(data) == 0 {
		return nil
	}
	var f rawFile
	if json.Unmarshal(data, &f) != nil || f.Version != formatVersion {
		return nil
	}
	return f.Entries
}

// decodeEntry decodes one entry; ok is false if raw is absent, null or not
// an object of the right shape.
func decodeEntry(raw json.RawMessage) (e Entry, ok bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return Entry{}, false
	}
	if json.Unmarshal(raw, &e) != nil {
		return Entry{}, false
	}
	return e, true
}

// decodeAll returns every entry of data that decodes; never nil.
func decodeAll(data []byte) map[string]Entry {
	raw := decodeRaw(data)
	entries := make(map[string]Entry, len(raw))
	for k, v := range raw {
		if e, ok := decodeEntry(v); ok {
			entries[k] = e
		}
	}
	return entries
}

// encode returns the file holding entries. The output is deterministic
// (encoding/json sorts map keys), so unchanged entries give identical bytes.
func encode(entries map[string]Entry) ([]byte, error) {
	if entries == nil {
		entries = map[string]Entry{}
	}
	data, err := json.Marshal(file{Version: formatVersion, Entries: entries})
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
