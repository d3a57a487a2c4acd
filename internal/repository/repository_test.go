package repository

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Location
	}{
		{"/mnt/backup/repo/", Location{Path: "/mnt/backup/repo"}},
		{"file:///mnt/backup/repo", Location{Path: "/mnt/backup/repo"}},
		{"s3://backups", Location{Scheme: SchemeS3, Bucket: "backups"}},
		{"s3://backups/hosts/nas/", Location{Scheme: SchemeS3, Bucket: "backups", Path: "hosts/nas/"}},
		{"sftp://backup@nas.lan/srv/backups", Location{Scheme: SchemeSFTP, Host: "nas.lan", User: "backup", Path: "/srv/backups"}},
		{"sftp://backup@[::1]:2222/srv", Location{Scheme: SchemeSFTP, Host: "::1", Port: 2222, User: "backup", Path: "/srv"}},
		{"webdav://dav.lan:8443/remote.php/dav/backups", Location{Scheme: SchemeWebDAV, Host: "dav.lan", Port: 8443, Path: "/remote.php/dav/backups"}},
		{"rclone://b2:backups/nas", Location{Scheme: SchemeRClone, Path: "b2:backups/nas"}},
		{"rclone://:local:/srv/repo", Location{Scheme: SchemeRClone, Path: ":local:/srv/repo"}},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"":                                "no location given",
		"repo":                            `"repo": must be an absolute path`,
		"s3:///x":                         "s3:///x names no bucket",
		"s3://k:s3cr3t@b/x":               "s3://b/x: give credentials in the plan's s3 section",
		"s3://b/x?X-Amz-Signature=s3cr3t": "s3://b/x: give credentials and options in the plan's s3 section, not in the URL",
		"sftp://nas/srv":                  "sftp://nas/srv names no user",
		"sftp://u:s3cr3t@nas/srv":         "sftp://u@nas/srv: give the password in the plan's sftp section",
		"sftp://u@nas":                    "sftp://u@nas names no directory",
		"sftp://u@nas:99999/srv":          `port "99999" is not a number from 1 to 65535`,
		"webdav://u@dav/x":                "give the user name as webdav.username",
		"rclone://nocolon":                "rclone://nocolon names no rclone remote",
		"rclone://:b2,account=x,key=s3cr3t:bucket": "rclone://:b2...: set the remote up in rclone's config file",
		"azure://container/x":                      "azure:// repositories are not supported by this version",
		"b2://bucket":                              "b2:// repositories are not supported by this version",
		"file://host/x":                            "want file:///absolute/path",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Parse(%q): the error shows the secret: %v", in, err)
		}
	}
}

// A Ref's JSON is that of the requests before it existed: the fields of
// old histories decode into it.
func TestRefJSONIsFlat(t *testing.T) {
	var req struct {
		PlanID string `json:"plan_id"`
		Ref
	}
	old := `{"plan_id":"home","repository":"/mnt/r","password_env":"PW","password_file":""}`
	if err := json.Unmarshal([]byte(old), &req); err != nil || req.Repository != "/mnt/r" || req.PasswordEnv != "PW" {
		t.Fatalf("decoded %+v, %v", req, err)
	}
	req.S3 = &S3{Endpoint: "minio:9000", SecretAccessKeyEnv: "S3_SECRET"}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"plan_id":"home","repository":"/mnt/r","password_env":"PW","s3":{"endpoint":"minio:9000","secret_access_key_env":"S3_SECRET"}}`; string(b) != want {
		t.Errorf("encoded %s\nwant %s", b, want)
	}
}

func TestSecretsNameTheirFields(t *testing.T) {
	r := Ref{PasswordFile: "/etc/pw", S3: &S3{AccessKeyIDEnv: "K", SecretAccessKeyFile: "/etc/s"}}
	var got []string
	for _, s := range append([]Secret{r.Password()}, r.Secrets()...) {
		got = append(got, s.Field)
	}
	want := "password_file s3.access_key_id_env s3.secret_access_key_file s3.session_token_env"
	if strings.Join(got, " ") != want {
		t.Errorf("fields %v, want %s", got, want)
	}
}
