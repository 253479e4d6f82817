#!/usr/bin/env bash
# Brings up the marketplace on EKS, step by step (each step is explained in eks/README.md):
# the cluster, Kubeflow Pipelines, the configuration the pipeline's tasks read, the images, the
# search service, and the compiled pipeline with its nightly schedule.
#
#   REGISTRY=<account>.dkr.ecr.<region>.amazonaws.com TAG=0.1.0 \
#   ARTIFACT_ROOT=s3://marketplace-artifacts/prod DATABASE_URL=postgres://… eks/up.sh
#
# Optional: CLUSTER_CONFIG (eks/cluster.yaml), OVERLAY (prod), KFP_VERSION (2.17.0), SKIP_IMAGES=1.
# Re-running is safe: each step skips or re-applies what is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
CLUSTER_CONFIG="${CLUSTER_CONFIG:-eks/cluster.yaml}"
OVERLAY="${OVERLAY:-prod}"
KFP_VERSION="${KFP_VERSION:-2.17.0}"
: "${REGISTRY:?set REGISTRY to the ECR registry, e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com}"
: "${TAG:?set TAG to the image tag to build and deploy (not latest)}"
: "${ARTIFACT_ROOT:?set ARTIFACT_ROOT, e.g. s3://marketplace-artifacts/prod}"
: "${DATABASE_URL:?set DATABASE_URL (the catalogue Postgres, e.g. RDS)}"
[ "$TAG" != latest ] || { echo "up.sh: TAG=latest is refused: name the exact images" >&2; exit 2; }

step() { printf '\n== %s\n' "$*" >&2; }
for tool in aws eksctl kubectl docker npm; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is not installed" >&2; exit 2; }
done
cluster="$(sed -n 's/^  name: //p' "$CLUSTER_CONFIG" | head -1)"
region="$(sed -n 's/^  region: //p' "$CLUSTER_CONFIG" | head -1)"
account="$(aws sts get-caller-identity --query Account --output text)"

step "1. EKS cluster $cluster in $region (CPU and GPU node groups, OIDC, IAM roles for service accounts)"
if eksctl get cluster --name "$cluster" --region "$region" >/dev/null 2>&1; then
  eksctl create iamserviceaccount --config-file "$CLUSTER_CONFIG" --approve
else
  eksctl create cluster --config-file "$CLUSTER_CONFIG"
fi
aws eks update-kubeconfig --name "$cluster" --region "$region"

step "2. Kubeflow Pipelines $KFP_VERSION (standalone)"
kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=$KFP_VERSION"
kubectl wait --for condition=established --timeout=120s crd/applications.app.k8s.io
kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=$KFP_VERSION"
kubectl -n kubeflow wait --for condition=available --timeout=900s deployment/ml-pipeline

step "3. The pipeline's identity and configuration in the kubeflow namespace"
kubectl -n kubeflow annotate serviceaccount pipeline-runner --overwrite \
  "eks.amazonaws.com/role-arn=arn:aws:iam::$account:role/marketplace-$OVERLAY-pipeline"
kubectl -n kubeflow create configmap marketplace-config --dry-run=client -o yaml \
  --from-literal=artifactRoot="$ARTIFACT_ROOT" --from-literal=awsRegion="$region" --from-literal=logLevel=info \
  | kubectl apply -f -
# The database URL goes through stdin, never the command line (where `ps` would show it).
printf '%s' "$DATABASE_URL" | kubectl -n kubeflow create secret generic marketplace-database --dry-run=client -o yaml \
  --from-file=url=/dev/stdin | kubectl apply -f -

step "4. Images: build, tag $TAG, push to $REGISTRY"
if [ -z "${SKIP_IMAGES:-}" ]; then
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$REGISTRY"
  for name in load clean drift train evaluate index deploy serve; do
    aws ecr describe-repositories --region "$region" --repository-names "marketplace-$name" >/dev/null 2>&1 \
      || aws ecr create-repository --region "$region" --repository-name "marketplace-$name" --image-tag-mutability IMMUTABLE >/dev/null
  done
  bash images/build.sh --registry "$REGISTRY" --tag "$TAG" --push
fi

step "5. The search service (manifests/overlays/$OVERLAY, image $REGISTRY/marketplace-serve:$TAG)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $root/manifests/overlays/$OVERLAY
images:
  - name: marketplace-serve
    newName: $REGISTRY/marketplace-serve
    newTag: "$TAG"
YAML
kubectl apply -k "$work"
kubectl -n marketplace rollout status deployment/search --timeout=600s || \
  echo "up.sh: the search service is not ready yet: it waits for a first model (the first pipeline run deploys one)" >&2

step "6. The pipeline: compile, upload, schedule nightly"
npm run -s compile-pipeline -- --image-registry "$REGISTRY" --image-tag "$TAG"
kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80 >/dev/null &
forward=$!
trap 'kill "$forward" 2>/dev/null; rm -rf "$work"' EXIT
sleep 3
KFP_HOST=http://localhost:8080 npm run -s kfp -- schedule
echo "up.sh: done. Kubeflow UI: kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80, then http://localhost:8080" >&2
