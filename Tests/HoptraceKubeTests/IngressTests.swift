import Foundation
import HoptraceKube
import Testing

/// Ingress matching as the networking.k8s.io/v1 documentation states it (its examples: `/foo` matches `/foo/bar`
/// but not `/foobar`; `*.foo.com` matches `bar.foo.com`, not `baz.bar.foo.com` nor `foo.com`; the longest path
/// wins and Exact beats Prefix on a tie).
@Suite("Ingress rules")
struct IngressTests {
    static let ingresses = [
        """
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"namespace": "shop", "name": "main"},
         "spec": {"ingressClassName": "nginx",
          "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
          "rules": [
           {"host": "shop.example.com", "http": {"paths": [
             {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}},
             {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
             {"path": "/api/v2", "pathType": "Prefix", "backend": {"service": {"name": "api-v2", "port": {"number": 80}}}},
             {"path": "/api", "pathType": "Exact", "backend": {"service": {"name": "api-exact", "port": {"number": 80}}}},
             {"path": "/docs/", "pathType": "Prefix", "backend": {"service": {"name": "docs", "port": {"number": 80}}}},
             {"path": "/login", "pathType": "Exact", "backend": {"service": {"name": "login", "port": {"number": 80}}}}
           ]}},
           {"host": "*.example.com", "http": {"paths": [
             {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "wild", "port": {"number": 80}}}}
           ]}},
           {"http": {"paths": [
             {"path": "/health", "pathType": "Exact", "backend": {"service": {"name": "health", "port": {"number": 80}}}}
           ]}}
          ]}}
        """,
        """
        {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "shop", "name": "web"},
         "spec": {"clusterIP": "10.96.1.1", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
        """,
    ]

    struct Case: CustomTestStringConvertible, Sendable {
        var host: String?
        var path: String
        var backend: String?
        var testDescription: String { "\(host ?? "-") \(path) → \(backend ?? "none")" }
    }

    static let cases: [Case] = [
        Case(host: "shop.example.com", path: "/", backend: "web"),
        Case(host: "shop.example.com", path: "/cart?id=1", backend: "web"),
        Case(host: "SHOP.example.com:443", path: "/cart", backend: "web"),
        Case(host: "shop.example.com", path: "/api", backend: "api-exact"),
        Case(host: "shop.example.com", path: "/api/", backend: "api"),
        Case(host: "shop.example.com", path: "/api/orders", backend: "api"),
        Case(host: "shop.example.com", path: "/apix", backend: "web"),
        Case(host: "shop.example.com", path: "/api/v2/orders", backend: "api-v2"),
        Case(host: "shop.example.com", path: "/api/v20", backend: "api"),
        Case(host: "shop.example.com", path: "/docs", backend: "docs"),
        Case(host: "shop.example.com", path: "/login/", backend: "web"),
        Case(host: "shop.example.com", path: "/login", backend: "login"),
        Case(host: "blog.example.com", path: "/anything", backend: "wild"),
        Case(host: "a.blog.example.com", path: "/", backend: "fallback"),
        Case(host: "example.com", path: "/health", backend: "health"),
        Case(host: nil, path: "/health", backend: "health"),
        Case(host: "other.org", path: "/", backend: "fallback"),
    ]

    @Test("host and path select the backend", arguments: cases)
    func routing(_ testCase: Case) throws {
        let state = try Objects.state(Self.ingresses)
        let route = state.ingressRoute(host: testCase.host, path: testCase.path)
        #expect(route?.backend.serviceName == testCase.backend)
    }

    @Test("a route names the Ingress, its rule and the backend Service port (a named port resolved)")
    func routeDescription() throws {
        let state = try Objects.state(Self.ingresses)
        let route = try #require(state.ingressRoute(host: "shop.example.com", path: "/cart"))
        #expect(route.ingress == ObjectRef(namespace: "shop", name: "main"))
        #expect(route.className == "nginx")
        #expect(route.servicePort?.port == 80)
        #expect(
            route.description
                == "Ingress shop/main (class nginx) rule shop.example.com / (Prefix) → service shop/web:80"
        )
        let fallback = try #require(state.ingressRoute(host: "other.org", path: "/"))
        #expect(fallback.path == nil)
        #expect(fallback.description.contains("default backend → service shop/fallback:80"))
    }

    @Test("without any Ingress, no route")
    func noIngress() throws {
        let state = try Objects.state([Self.ingresses[1]])
        #expect(state.ingressRoute(host: "shop.example.com", path: "/") == nil)
    }
}
