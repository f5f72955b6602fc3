"""What make test-fleet reads from a stack's exported state (`pulumi stack export`) and the cluster's objects
(`kubectl get -o json --show-managed-fields`). Standard library only.

  state.py kinds EXPORT                          the kinds the state records, for `kubectl get`
  state.py recorded NS EXPORT OBJECTS MANAGER    every recorded object exists, every object Pulumi applied is
                                                 recorded, and MANAGER is the only Pulumi field manager; prints
                                                 the count
  state.py unrecorded NS EXPORT OBJECTS          exit 0 when an object Pulumi applied is not recorded yet
  state.py inventory EXPORT                      one line per resource: URN, protected or not
  state.py pending EXPORT                        the number of pending operations
EXPORT is `pulumi stack export`'s output or a file backend's checkpoint file.
"""
import json
import sys


def deployment(path):
    """The deployment of `pulumi stack export`, or of a file backend's checkpoint file read directly (which a
    stopped engine cannot leave half-written: the backend renames it into place)."""
    data = json.load(open(path))
    return data["checkpoint"].get("latest") or {} if "checkpoint" in data else data["deployment"]


def resources(export):
    return deployment(export).get("resources") or []


def kubernetes_objects(export, ns=None):
    """(kind, name) of the Kubernetes objects the state records, in namespace ns when given."""
    out = set()
    for r in resources(export):
        o = r.get("outputs") or {}
        if not r["type"].startswith("kubernetes:") or "kind" not in o:
            continue
        meta = o.get("metadata") or {}
        if ns is None or meta.get("namespace") == ns:
            out.add((o["kind"], meta.get("name")))
    return out


def pulumi_managers(obj):
    return {m.get("manager", "") for m in obj["metadata"].get("managedFields", [])
            if m.get("manager", "").startswith("pulumi")}


def cluster_objects(objects, ns):
    return [o for o in json.load(open(objects))["items"] if o["metadata"].get("namespace") == ns]


def main(cmd, *args):
    if cmd == "kinds":
        kinds = set()
        for r in resources(args[0]):
            o = r.get("outputs") or {}
            if r["type"].startswith("kubernetes:") and "kind" in o:
                group = o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else ""
                kinds.add(o["kind"].lower() + ("." + group if group else ""))
        print(",".join(sorted(kinds)))
    elif cmd == "recorded":
        ns, export, objects, manager = args
        recorded = kubernetes_objects(export, ns)
        items = cluster_objects(objects, ns)
        present = {(o["kind"], o["metadata"]["name"]) for o in items}
        applied = {(o["kind"], o["metadata"]["name"]) for o in items if pulumi_managers(o)}
        lost, orphaned = sorted(recorded - present), sorted(applied - recorded)
        others = sorted((o["kind"], o["metadata"]["name"], sorted(pulumi_managers(o) - {manager}))
                        for o in items if pulumi_managers(o) - {manager})
        if lost or orphaned or others or not recorded:
            sys.exit(f"recorded {len(recorded)}; lost (in the state, not the cluster): {lost}; orphaned (applied by "
                     f"Pulumi, not in the state): {orphaned}; applied by another Pulumi field manager than {manager}: {others}")
        print(len(recorded))
    elif cmd == "unrecorded":
        ns, export, objects = args
        recorded = kubernetes_objects(export, ns)
        applied = {(o["kind"], o["metadata"]["name"]) for o in cluster_objects(objects, ns) if pulumi_managers(o)}
        missing = sorted(applied - recorded)
        print(missing)
        sys.exit(0 if missing else 1)
    elif cmd == "inventory":
        for r in sorted(resources(args[0]), key=lambda r: r["urn"]):
            print(r["urn"], "protected" if r.get("protect") else "-")
    elif cmd == "pending":
        print(len(deployment(args[0]).get("pending_operations") or []))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(*sys.argv[1:])
