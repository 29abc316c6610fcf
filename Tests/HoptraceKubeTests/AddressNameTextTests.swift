import HoptraceKube
import Testing

/// The text of a name, as `AddressName`'s documentation and the README spell each kind (`"text"` in JSON, the names
/// column of the text report).
@Suite("Address name text")
struct AddressNameTextTests {
    @Test("each role, with and without its object, port and qualifier")
    func spelled() {
        let web = ObjectRef(namespace: "default", name: "web")
        let cases: [(AddressName, String)] = [
            (
                AddressName(role: .pod, object: ObjectRef(namespace: "default", name: "web-7d4b9")),
                "pod default/web-7d4b9"
            ),
            (AddressName(role: .pod, source: .learned), "pod address"),
            (AddressName(role: .service, object: web, port: 80), "service default/web:80"),
            (AddressName(role: .service, object: web), "service default/web"),
            (AddressName(role: .service, port: 80, source: .learned), "service address"),
            (AddressName(role: .nodePort, object: web, port: 30080), "nodeport default/web:30080"),
            (AddressName(role: .nodePort, port: 30080, source: .learned), "nodeport :30080"),
            (AddressName(role: .node, object: ObjectRef(namespace: "", name: "lab-node")), "node lab-node"),
            (AddressName(role: .node, source: .learned), "node address"),
            (AddressName(role: .ingressController, source: .learned), "L7 proxy"),
            (
                AddressName(role: .ingressController, object: ObjectRef(namespace: "ingress-nginx", name: "c-1")),
                "ingress controller ingress-nginx/c-1"
            ),
            (
                AddressName(
                    role: .pod,
                    object: ObjectRef(namespace: "ingress-nginx", name: "controller-x"),
                    qualifier: "host network"
                ),
                "pod ingress-nginx/controller-x, host network"
            ),
            // An object without a namespace (a node's, or a pod's when the state left it out) is its name alone.
            (AddressName(role: .pod, object: ObjectRef(namespace: "", name: "bare")), "pod bare"),
        ]
        for (name, text) in cases {
            #expect(name.description == text)
        }
    }
}
