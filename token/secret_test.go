package token

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"PW": "from-env\n", "PW_CRLF": "from-env\r\n", "PW_MULTI": "a\nb", "PW_EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name, content, env string
		want, wantErr      string
	}{
		{name: "file", content: "pw1", want: "pw1"},
		{name: "file with newline", content: "pw1\n", want: "pw1"},
		{name: "file with CRLF", content: "pw1\r\n", want: "pw1"},
		{name: "file with blank lines after", content: "pw1\n\n", want: "pw1"},
		{name: "spaces are part of it", content: "  pw1  \n", want: "  pw1  "},
		{name: "two lines", content: "pw1\nline2\n", wantErr: "more than one line"},
		{name: "NUL byte", content: "pw\x001", wantErr: "more than one line"},
		{name: "empty file", content: "\n", wantErr: "is empty"},
		{name: "env", env: "PW", want: "from-env"},
		{name: "env with CRLF", env: "PW_CRLF", want: "from-env"},
		{name: "env two lines", env: "PW_MULTI", wantErr: "more than one line"},
		{name: "env empty", env: "PW_EMPTY", wantErr: "empty or not set"},
		{name: "env unset", env: "PW_UNSET", wantErr: "empty or not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := ""
			if tc.env == "" {
				file = filepath.Join(dir, tc.name)
				require.NoError(t, os.WriteFile(file, []byte(tc.content), 0o600))
			}
			got, err := ReadSecret(file, tc.env, getenv)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "pw1")
				assert.NotContains(t, err.Error(), "from-env")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
