import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, getToken, must, onTokenChange, setToken } from '../api/client';
import type { Me } from '../api/types';

interface AuthState {
  token: string | null;
  /** The signed-in account; undefined while it loads. */
  me: Me | undefined;
  signIn: (token: string) => void;
  signOut: () => void;
  refresh: () => void;
}

const Ctx = createContext<AuthState | null>(null);

/** Who is signed in: the token (a JWT from log-in, kept in localStorage) and /v1/me. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setTok] = useState(getToken());
  const [me, setMe] = useState<Me>();
  const [tick, setTick] = useState(0);
  useEffect(() => onTokenChange(setTok), []);
  useEffect(() => {
    setMe(undefined);
    if (!token) return;
    let live = true;
    must(api.GET('/v1/me')).then(
      (m) => live && setMe(m),
      () => live && setToken(null),
    );
    return () => {
      live = false;
    };
  }, [token, tick]);
  const signIn = useCallback((t: string) => setToken(t), []);
  const signOut = useCallback(() => setToken(null), []);
  const refresh = useCallback(() => setTick((x) => x + 1), []);
  return <Ctx.Provider value={{ token, me, signIn, signOut, refresh }}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const c = useContext(Ctx);
  if (!c) throw new Error('useAuth outside AuthProvider');
  return c;
}
