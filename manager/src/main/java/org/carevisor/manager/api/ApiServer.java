package org.carevisor.manager.api;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import io.javalin.http.staticfiles.Location;
import io.javalin.json.JavalinJackson;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.host.AgentCallException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP server: REST API under /api/v1, the agent report endpoint under /agent/v1, metrics and the web
 * console. Routes are registered by {@link ApiRoutes}; errors of every kind become problem documents here.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);

    private final Javalin app;
    private final List<String> routes;

    private ApiServer(Javalin app, List<String> routes) {
        this.app = app;
        this.routes = routes;
    }

    /** Starts the server on {@code address:port} (port 0: any free port). */
    public static ApiServer start(String address, int port, ApiRoutes api, Guard guard) {
        List<String> routes = Collections.synchronizedList(new ArrayList<>());
        Javalin app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.useVirtualThreads = true;
            config.http.prefer405over404 = true;
            config.http.maxRequestSize = 1_000_000L;
            config.jsonMapper(new JavalinJackson(Json.mapper(), false));
            config.staticFiles.add(s -> {
                s.hostedPath = "/";
                s.directory = "/web";
                s.location = Location.CLASSPATH;
            });
        });
        app.exception(ApiException.class, (e, ctx) -> Problems.write(ctx, e));
        app.exception(AgentCallException.class, (e, ctx) -> Problems.write(ctx, fromAgent(e)));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            Problems.write(ctx, new ApiException(500, "internal-error", "Internal error",
                    "the manager failed to handle this request: " + e, null));
        });
        app.error(HttpStatus.NOT_FOUND, ctx -> {
            if (!isProblem(ctx)) {
                Problems.write(ctx, new ApiException(404, "no-such-endpoint", "Not found", "there is no endpoint "
                        + ctx.method() + " " + ctx.path() + "; see /api/v1/openapi.json", null));
            }
        });
        app.error(HttpStatus.METHOD_NOT_ALLOWED, ctx -> Problems.write(ctx, new ApiException(405,
                "method-not-allowed", "Method not allowed", ctx.method() + " is not allowed on " + ctx.path(), null)));
        api.register(new ApiRoutes.Registrar() {
            @Override
            public void add(String method, String path, io.javalin.http.Handler endpoint) {
                routes.add(method + " " + path);
                // default deny: a route without an access rule stops the server from starting
                org.carevisor.manager.auth.AccessPolicy.Rule rule =
                        org.carevisor.manager.auth.AccessPolicy.rule(method, path);
                io.javalin.http.Handler handler = ctx -> {
                    guard.check(ctx, rule);
                    endpoint.handle(ctx);
                };
                switch (method) {
                    case "GET" -> app.get(path, handler);
                    case "POST" -> app.post(path, handler);
                    case "PATCH" -> app.patch(path, handler);
                    case "DELETE" -> app.delete(path, handler);
                    default -> throw new IllegalArgumentException(method);
                }
            }
        });
        app.start(address, port);
        return new ApiServer(app, List.copyOf(routes));
    }

    private static boolean isProblem(Context ctx) {
        String type = ctx.res().getContentType();
        return type != null && type.startsWith(Problems.CONTENT_TYPE);
    }

    /** An agent's refusal is a conflict with the host's state (409, or 507 when storage is full); other failures 502. */
    static ApiException fromAgent(AgentCallException e) {
        int status = e.status() == 507 ? 507 : e.status() >= 400 && e.status() < 500 ? 409 : 502;
        return new ApiException(status, e.code(), status == 502 ? "The host agent failed" : "Refused by the host",
                e.getMessage(), null);
    }

    /** Serves a classpath resource as-is (the OpenAPI document). */
    static void resource(Context ctx, String path, String contentType) throws IOException {
        try (InputStream in = ApiServer.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("resource " + path + " missing from the build");
            }
            ctx.contentType(contentType).result(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** The actor of a request: the authenticated user at its address, with reason and signature if given. */
    static Actor actor(Context ctx) {
        return Guard.actor(ctx);
    }

    public int port() {
        return app.port();
    }

    /** "METHOD /path" of every registered route, for the OpenAPI completeness test. */
    public List<String> routes() {
        return routes;
    }

    @Override
    public void close() {
        app.stop();
    }
}
