// The fault proxy lives with the launcher (the chaos runner uses it too).
export { TcpProxy, type CutMode } from '../../shared/zk-server/tcp-proxy.js';
