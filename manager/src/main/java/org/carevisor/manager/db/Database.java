package org.carevisor.manager.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.SqlStatements;

/**
 * The manager's SQL database: a connection pool, versioned schema migrations (Flyway, applied at start)
 * and Jdbi for queries. H2 embedded by default; PostgreSQL when the JDBC URL says so. Thread-safe.
 */
public final class Database implements AutoCloseable {
    private final HikariDataSource dataSource;
    private final Jdbi jdbi;
    private final String product;

    private Database(HikariDataSource dataSource, String product) {
        this.dataSource = dataSource;
        this.jdbi = Jdbi.create(dataSource);
        // Optional filters bind a value that some query variants do not use.
        this.jdbi.getConfig(SqlStatements.class).setUnusedBindingAllowed(true);
        this.product = product;
    }

    /** Connects, migrates the schema to the newest version and returns the ready database. */
    public static Database open(String url, String user, String password) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        if (user != null) {
            config.setUsername(user);
        }
        if (password != null) {
            config.setPassword(password);
        }
        config.setMaximumPoolSize(url.startsWith("jdbc:h2:") ? 4 : 8);
        config.setMinimumIdle(1);
        config.setPoolName("carevisor-db");
        config.setConnectionTimeout(10_000);
        HikariDataSource ds = new HikariDataSource(config);
        try {
            Flyway.configure().dataSource(ds).locations("classpath:db/migration").load().migrate();
            String product;
            try (var c = ds.getConnection()) {
                product = c.getMetaData().getDatabaseProductName() + " " + c.getMetaData().getDatabaseProductVersion();
            }
            return new Database(ds, product);
        } catch (Exception e) {
            ds.close();
            throw new IllegalStateException("cannot open database " + url + ": " + e.getMessage(), e);
        }
    }

    /**
     * The default embedded H2 database in a directory. {@code WRITE_DELAY=0}: every commit is written to the
     * file before it returns (H2's default keeps up to a second of commits in memory, which a killed manager
     * would lose - audit records among them).
     */
    public static String h2Url(java.nio.file.Path dataDir) {
        return "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("carevisor") + ";DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY=0";
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    /** Database product and version, e.g. "PostgreSQL 15.8". */
    public String product() {
        return product;
    }

    /** True when a trivial query succeeds. */
    public boolean healthy() {
        try {
            return jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()) == 1;
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public void close() {
        dataSource.close();
    }
}
