/* A GLES2 program as a user would write one: EGL surfaceless, a 16x16 renderbuffer, a red
 * clear, one pixel read back.  Under softgem run, Mesa's iris drives the device to the end. */
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <stdio.h>
int main(void){
 EGLDisplay d = eglGetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
 EGLint maj,min; if(!eglInitialize(d,&maj,&min)){printf("init failed 0x%x\n",eglGetError());return 1;}
 printf("vendor %s\n", eglQueryString(d, EGL_VENDOR));
 eglBindAPI(EGL_OPENGL_ES_API);
 EGLint ca[]={EGL_CONTEXT_CLIENT_VERSION,2,EGL_NONE};
 EGLContext c=eglCreateContext(d,EGL_NO_CONFIG_KHR,EGL_NO_CONTEXT,ca);
 if(!c){printf("ctx failed 0x%x\n",eglGetError());return 1;}
 eglMakeCurrent(d,EGL_NO_SURFACE,EGL_NO_SURFACE,c);
 printf("renderer %s\n", glGetString(GL_RENDERER));
 GLuint rb,fb; glGenRenderbuffers(1,&rb); glBindRenderbuffer(GL_RENDERBUFFER,rb); glRenderbufferStorage(GL_RENDERBUFFER,GL_RGBA4,16,16);
 glGenFramebuffers(1,&fb); glBindFramebuffer(GL_FRAMEBUFFER,fb); glFramebufferRenderbuffer(GL_FRAMEBUFFER,GL_COLOR_ATTACHMENT0,GL_RENDERBUFFER,rb);
 printf("fb status 0x%x\n", glCheckFramebufferStatus(GL_FRAMEBUFFER));
 glClearColor(1,0,0,1); glClear(GL_COLOR_BUFFER_BIT);
 unsigned char px[4]={0}; glReadPixels(0,0,1,1,GL_RGBA,GL_UNSIGNED_BYTE,px);
 printf("pixel %d %d %d %d err 0x%x\n",px[0],px[1],px[2],px[3],glGetError());
 return 0;}
