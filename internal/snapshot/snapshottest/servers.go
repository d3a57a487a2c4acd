package snapshottest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/net/webdav"
)

// S3Server serves the S3 API on loopback (gofakes3, in memory) with the
// given buckets, until the test ends, and returns its host:port (plain
// HTTP). It accepts any credentials.
func S3Server(t testing.TB, buckets ...string) (endpoint string) {
	t.Helper()
	be := s3mem.New()
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// SFTP is an SSH server with the SFTP subsystem on loopback, serving this
// machine's file system to one user and one key.
type SFTP struct {
	Host string // 127.0.0.1
	Port int
	User string
	// KeyFile is the user's private key (OpenSSH format); KnownHostsFile
	// holds the server's host key for [Host]:Port.
	KeyFile, KnownHostsFile string
	// Password also logs the user in.
	Password string

	mu     sync.Mutex
	logins int
}

// URL is the sftp:// location of dir (an absolute path) on the server.
func (s *SFTP) URL(dir string) string {
	return "sftp://" + s.User + "@" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + dir
}

// Logins is how many SSH connections the server accepted.
func (s *SFTP) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// SFTPServer starts an SFTP server until the test ends, with a fresh host
// key and user key whose files are in a temporary directory.
func SFTPServer(t testing.TB) *SFTP {
	t.Helper()
	dir := t.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	userPub, userPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(userPriv, "steward test")
	if err != nil {
		t.Fatal(err)
	}
	sshUserPub, err := ssh.NewPublicKey(userPub)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &SFTP{
		Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, User: "steward", Password: "sftp-password-canary",
		KeyFile: filepath.Join(dir, "id_ed25519"), KnownHostsFile: filepath.Join(dir, "known_hosts"),
	}
	known := knownhosts.Line([]string{knownhosts.Normalize(l.Addr().String())}, hostKey.PublicKey()) + "\n"
	if err := os.WriteFile(s.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.KnownHostsFile, []byte(known), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == s.User && string(key.Marshal()) == string(sshUserPub.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == s.User && string(pw) == s.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	cfg.AddHostKey(hostKey)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(conn, cfg)
		}
	}()
	return s
}

// serve runs one SSH connection: sessions asking for the sftp subsystem.
func (s *SFTP) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions") //nolint:errcheck // the client hears it
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range requests {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil) //nolint:errcheck // the client hears it
				if !ok {
					continue
				}
				srv, err := sftp.NewServer(ch)
				if err != nil {
					ch.Close()
					return
				}
				if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
					ch.Close()
					return
				}
				srv.Close()
				ch.Close()
			}
		}()
	}
}

// WebDAVServer serves dir over WebDAV (plain HTTP, loopback) until the test
// ends, to user with password, and returns its host:port.
func WebDAVServer(t testing.TB, dir, user, password string) (addr string) {
	t.Helper()
	h := &webdav.Handler{FileSystem: webdav.Dir(dir), LockSystem: webdav.NewMemLS()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="steward test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
