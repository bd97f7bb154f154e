package org.carevisor.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionTest {
    @TempDir
    Path dir;

    @Test
    void roundTripWithOwnerOnlyPermissions() throws Exception {
        Path file = dir.resolve("var").resolve("cli").resolve("session");
        Session s = new Session("http://127.0.0.1:7700", "cvs_secret", "alice", "2026-11-22T20:00:00Z");
        s.write(file);

        assertThat(Session.read(file)).isEqualTo(s);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())))
                .isEqualTo("rwx------");
        assertThat(ApiClient.json().readTree(file.toFile()).fieldNames()).toIterable()
                .containsExactly("url", "token", "username", "expiresAt");

        Session next = new Session("http://127.0.0.1:7700", "cvs_other", "bob", null);
        next.write(file);
        assertThat(Session.read(file)).isEqualTo(next);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        try (var files = Files.list(file.getParent())) {
            assertThat(files).containsExactly(file); // no temporary files left
        }

        assertThat(Session.delete(file)).isTrue();
        assertThat(Session.read(file)).isNull();
        assertThat(Session.delete(file)).isFalse();
    }

    @Test
    void damagedFileIsReported() throws Exception {
        Path file = dir.resolve("session");
        Files.writeString(file, "not json {");
        assertThatThrownBy(() -> Session.read(file)).isInstanceOf(CliException.class)
                .hasMessageContaining("carevisor login");
    }

    @Test
    void sessionBelongsToItsManager() {
        Session s = new Session("http://mgr:7700/", "t", "alice", null);
        assertThat(s.isFor("http://mgr:7700")).isTrue();
        assertThat(s.isFor("http://other:7700")).isFalse();
    }

    @Test
    void sessionFileLocation() {
        CarevisorCli cli = new CarevisorCli();
        java.util.Map<String, String> env = new java.util.HashMap<>();
        cli.env = env::get;
        assertThat(cli.sessionFile()).isEqualTo(Path.of("var", "cli", "session"));
        env.put("CAREVISOR_VAR", "/srv/carevisor");
        assertThat(cli.sessionFile()).isEqualTo(Path.of("/srv/carevisor", "cli", "session"));
        env.put("CAREVISOR_SESSION_FILE", "/tmp/s");
        assertThat(cli.sessionFile()).isEqualTo(Path.of("/tmp/s"));
        cli.sessionFile(Path.of("/tmp/preset"));
        assertThat(cli.sessionFile()).isEqualTo(Path.of("/tmp/preset"));
    }
}
