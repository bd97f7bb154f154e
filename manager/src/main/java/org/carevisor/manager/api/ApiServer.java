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

/**
 * The HTTP server: REST API under /api/v1, the agent report endpoint under /agent/v1, metrics and the web
 * console. Routes are registered by {@link ApiRoutes}; errors of every kind become problem documents here;
 * security headers, the JSON-only body rule and incident ids of 500s come from {@link HttpHardening}.
 */
public final class ApiServer implements AutoCloseable {
    private final Javalin app;
    private final List<String> routes;

    private ApiServer(Javalin app, List<String> routes) {
        this.app = app;
        this.routes = routes;
    }

    /** HSTS: browsers that saw the API over HTTPS use only HTTPS for it for a year. */
    static final int HSTS_SECONDS = 365 * 24 * 3600;

    /**
     * Starts the server on {@code address:port} (port 0: any free port): HTTPS with {@code tls}, or plain HTTP
     * when {@code tls} is null (the configuration allows that on loopback only).
     */
    public static ApiServer start(String address, int port, org.carevisor.manager.tls.ApiTls tls, ApiRoutes api,
                                  Guard guard) {
        List<String> routes = Collections.synchronizedList(new ArrayList<>());
        Javalin app = Javalin.create(config -> {
            if (tls != null) {
                config.jetty.addConnector((server, http) -> httpsConnector(server, http, tls, address, port));
            }
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
        HttpHardening hardening = new HttpHardening(guard.audit());
        app.before(HttpHardening::headers);
        if (tls != null) {
            app.before(ApiServer::refusePlainHttp);
        }
        app.exception(ApiException.class, (e, ctx) -> Problems.write(ctx, e));
        app.exception(org.carevisor.manager.DomainException.class, (e, ctx) -> Problems.write(ctx,
                ApiException.from(e)));
        app.exception(AgentCallException.class, (e, ctx) -> Problems.write(ctx, fromAgent(e)));
        app.exception(io.javalin.http.HttpResponseException.class,
                (e, ctx) -> Problems.write(ctx, HttpHardening.http(ctx, e)));
        app.exception(Exception.class, (e, ctx) -> Problems.write(ctx, HttpHardening.internal(ctx, e)));
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
                    hardening.requireJson(ctx, method, path);
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
        if (tls != null) {
            app.start();
        } else {
            app.start(address, port);
        }
        return new ApiServer(app, List.copyOf(routes));
    }

    /**
     * The HTTPS connector. It also recognises a plain HTTP request on the same port, so that a browser pointed
     * at http://... is sent to https://... (see {@link #refusePlainHttp}) instead of seeing a broken connection.
     */
    private static org.eclipse.jetty.server.Connector httpsConnector(org.eclipse.jetty.server.Server server,
            org.eclipse.jetty.server.HttpConfiguration base, org.carevisor.manager.tls.ApiTls tls, String address,
            int port) {
        org.eclipse.jetty.server.HttpConfiguration https = new org.eclipse.jetty.server.HttpConfiguration(base);
        https.addCustomizer(new org.eclipse.jetty.server.SecureRequestCustomizer(false, false, HSTS_SECONDS, false));
        org.eclipse.jetty.server.HttpConnectionFactory http1 = new org.eclipse.jetty.server.HttpConnectionFactory(https);
        org.eclipse.jetty.server.SslConnectionFactory ssl = new org.eclipse.jetty.server.SslConnectionFactory(
                tls.factory(), http1.getProtocol());
        org.eclipse.jetty.server.ServerConnector c = new org.eclipse.jetty.server.ServerConnector(server,
                new org.eclipse.jetty.server.DetectorConnectionFactory(ssl), http1);
        c.setHost(address);
        c.setPort(port);
        return c;
    }

    /**
     * A request that reached the HTTPS port in plain HTTP is not processed: a GET or HEAD is redirected to the
     * same path over HTTPS, anything else (it may have carried a password in clear) is refused.
     */
    private static void refusePlainHttp(Context ctx) {
        if (ctx.req().isSecure()) {
            return;
        }
        String host = ctx.host() == null || !ctx.host().matches("[A-Za-z0-9.:\\[\\]-]{1,260}") ? "127.0.0.1"
                : ctx.host();
        String target = "https://" + host + ctx.path();
        if (ctx.method() == io.javalin.http.HandlerType.GET || ctx.method() == io.javalin.http.HandlerType.HEAD) {
            ctx.header("Location", target);
            ctx.status(308);
            ctx.skipRemainingHandlers();
            return;
        }
        throw new ApiException(400, "https-required", "HTTPS required", "this manager serves its API over HTTPS"
                + " only; send the request to " + target + " (the request was not processed; change any password it"
                + " carried in clear)", null);
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
