// Docker Hub's names, in one place. Image references and credential keys normalise them differently,
// as the runtime and the kubelet do: distribution/reference maps only `index.docker.io` onto
// `docker.io` in an image name, while the kubelet's keyring also treats the API endpoint
// `registry-1.docker.io` (and `docker login`'s `https://index.docker.io/v1/`) as Docker Hub.

export const DOCKER_HUB = 'docker.io'
/** what older clients wrote; an image named after it is a Docker Hub image */
export const LEGACY_DOCKER_HUB = 'index.docker.io'
/** the registry API endpoint; only a credential key on it means Docker Hub */
export const DOCKER_HUB_API = 'registry-1.docker.io'
/** `library/nginx` is what `nginx` names */
export const OFFICIAL_IMAGES_PREFIX = 'library/'
